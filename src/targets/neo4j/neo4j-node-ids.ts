/**
 * The set of node ids an export file holds, so that a relationship whose end node is not in the
 * file is caught (by the export, which skips it, and by the file check, which refuses it). Memory
 * stays small however big the graph is: elementIds `<kind>:<database>:<number>` of one database
 * are kept as bits (node numbers are dense); any other id is kept as a string.
 */

/** Largest node number kept as a bit (a 64 MB bitmap); larger ones are kept as strings. */
const MAX_BIT = 1 << 29;

/** A set of node ids (elementIds, or any string in a hand-made file). */
export interface NodeIdSet {
  add(id: string): void;
  has(id: string): boolean;
}

/** An empty NodeIdSet. */
export function createNodeIdSet(): NodeIdSet {
  let prefix: string | undefined;
  let bits = new Uint8Array(1 << 12);
  const other = new Set<string>();
  // the number of a `<prefix><digits>` id of the first prefix seen, else undefined
  const numberOf = (id: string, adding: boolean): number | undefined => {
    const at = id.lastIndexOf(':') + 1;
    const tail = id.slice(at);
    if (!at || !/^\d{1,9}$/.test(tail) || (tail.length > 1 && tail[0] === '0')) return undefined;
    const n = Number(tail);
    if (n >= MAX_BIT) return undefined;
    if (prefix === undefined && adding) prefix = id.slice(0, at);
    return id.slice(0, at) === prefix ? n : undefined;
  };
  return {
    add(id) {
      const n = numberOf(id, true);
      if (n === undefined) {
        other.add(id);
        return;
      }
      if (n >> 3 >= bits.length) {
        const grown = new Uint8Array(Math.max(bits.length * 2, (n >> 3) + 1));
        grown.set(bits);
        bits = grown;
      }
      bits[n >> 3] = (bits[n >> 3] ?? 0) | (1 << (n & 7));
    },
    has(id) {
      const n = numberOf(id, false);
      if (n === undefined) return other.has(id);
      return ((bits[n >> 3] ?? 0) & (1 << (n & 7))) !== 0;
    },
  };
}
