/**
 * What a forced exit leaves to others. A second Ctrl-C quits at once, without the cleanup the first
 * one runs; a part of qnb that hands work to someone else in that case (Neo4j stopped, a load half
 * done: the guardian takes over) registers a note, and the CLI prints the notes before it quits,
 * so the terminal says what happens next and which command puts things back.
 */
type Note = () => string | undefined;

const notes = new Set<Note>();

/** Registers `note` (read at the moment of a forced exit); returns its removal. */
export function addExitNote(note: Note): () => void {
  notes.add(note);
  return () => {
    notes.delete(note);
  };
}

/** The notes that apply now. */
export function exitNotes(): string[] {
  return [...notes].map((n) => n()).filter((s): s is string => Boolean(s));
}
