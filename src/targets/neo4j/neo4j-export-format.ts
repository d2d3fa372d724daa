/**
 * The export file format (`<db>-YYYYMMDD-HHMMSS.export.jsonl.gz`, spec in docs/neo4j.md): gzip
 * JSON Lines — a header, the schema, every node, every relationship, and an end line with what
 * the file holds. Property values are tagged (neo4j-value-codec.ts). This file reads it back,
 * one line at a time (bounded memory), and checks its shape.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { QnbError } from '../../core/errors.js';
import type { GraphCounts } from './neo4j-bolt.js';
import { createNodeIdSet } from './neo4j-node-ids.js';
import type { TaggedValue, ValueCodec } from './neo4j-value-codec.js';

/** Format name written in every header. */
export const EXPORT_FORMAT = 'qnb-neo4j-export';
/** Format version this qnb writes and reads. */
export const EXPORT_VERSION = 1;
/** File name ending of export files. */
export const EXPORT_EXT = '.export.jsonl.gz';

/** First line. `counts` were counted when the read transaction began. */
export interface ExportHeader {
  kind: 'header';
  format: typeof EXPORT_FORMAT;
  version: number;
  neo4jVersion: string;
  database: string;
  createdAt: string;
  counts: GraphCounts;
}

/** An index or constraint, replayed with `createStatement` after the data. */
export interface ExportSchema {
  kind: 'index' | 'constraint';
  name: string;
  /** RANGE, TEXT, POINT, FULLTEXT, VECTOR; UNIQUENESS, NODE_KEY, … */
  type: string;
  entityType: string;
  labelsOrTypes: string[] | null;
  properties: string[] | null;
  createStatement: string;
}

/** A node; `id` is its elementId in the exported database, only meaningful inside the file. */
export interface ExportNode {
  kind: 'node';
  id: string;
  labels: string[];
  properties: Record<string, TaggedValue>;
}

/** A relationship; `start` and `end` are node `id`s of this file. */
export interface ExportRelationship {
  kind: 'relationship';
  id: string;
  type: string;
  start: string;
  end: string;
  properties: Record<string, TaggedValue>;
}

/** Last line: what the file holds. A file without it is truncated. */
export interface ExportEnd {
  kind: 'end';
  counts: GraphCounts;
}

/** Any line of an export file. */
export type ExportLine = ExportHeader | ExportSchema | ExportNode | ExportRelationship | ExportEnd;

function badFile(file: string, why: string): QnbError {
  return new QnbError('E_VERIFY', `${file}: not a readable qnb Neo4j export: ${why}`, {
    hint: 'restore an older backup: `qnb list`',
  });
}

/** The lines of an export file, parsed, in order (gunzip and split streamed). */
export async function* readExportLines(path: string, label: string): AsyncGenerator<ExportLine> {
  const gunzip = createGunzip();
  const feeding = pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), gunzip).catch(() => {});
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNo = 0;
  const parse = (text: string): ExportLine => {
    lineNo++;
    try {
      const v = JSON.parse(text) as ExportLine;
      if (!v || typeof v !== 'object' || typeof v.kind !== 'string') throw new Error('no "kind"');
      return v;
    } catch (err) {
      throw badFile(label, `line ${lineNo}: ${(err as Error).message}`);
    }
  };
  try {
    for await (const chunk of gunzip) {
      const lines = (rest + decoder.write(chunk as Buffer)).split('\n');
      rest = lines.pop()!;
      for (const l of lines) if (l) yield parse(l);
    }
  } catch (err) {
    if (err instanceof QnbError) throw err;
    throw badFile(label, (err as Error).message);
  } finally {
    gunzip.destroy();
    await feeding;
  }
  rest += decoder.end();
  if (rest) yield parse(rest);
}

/** What a full read of an export file found (small: schema and a few sampled relationships). */
export interface ExportSummary {
  header: ExportHeader;
  schema: ExportSchema[];
  counts: GraphCounts;
  /** Endpoints of the relationships named in `sampleRelIds`, for checking them after an import. */
  sampleRels: Map<string, { start: string; end: string; type: string }>;
}

/**
 * Reads the whole file once and checks it before anything is touched: header and version, line
 * order (schema, nodes, relationships, end), every value decodes, every relationship's start and
 * end node is in the file, and the end line's counts.
 */
export async function checkExportFile(
  path: string,
  label: string,
  codec: ValueCodec,
  sampleRelIds: ReadonlySet<string> = new Set(),
): Promise<ExportSummary> {
  let header: ExportHeader | undefined;
  let end: ExportEnd | undefined;
  const schema: ExportSchema[] = [];
  const sampleRels: ExportSummary['sampleRels'] = new Map();
  const counts = { nodes: 0, relationships: 0 };
  const nodeIds = createNodeIdSet();
  const order = ['header', 'index', 'node', 'relationship', 'end'];
  let stage = 0;
  for await (const line of readExportLines(path, label)) {
    const at = order.indexOf(line.kind === 'constraint' ? 'index' : line.kind);
    if (at < 0) throw badFile(label, `unknown line kind "${line.kind}"`);
    if (end || at < stage || (at === 0 && header)) throw badFile(label, `a "${line.kind}" line out of order`);
    if (!header && at !== 0) throw badFile(label, 'the first line is not a header');
    stage = at;
    try {
      if (line.kind === 'header') {
        if (line.format !== EXPORT_FORMAT) throw new Error(`format "${line.format}"`);
        if (line.version !== EXPORT_VERSION)
          throw new Error(`format version ${line.version}; this qnb reads version ${EXPORT_VERSION}`);
        header = line;
      } else if (line.kind === 'index' || line.kind === 'constraint') {
        if (typeof line.createStatement !== 'string') throw new Error(`${line.kind} without createStatement`);
        schema.push(line);
      } else if (line.kind === 'node') {
        if (typeof line.id !== 'string' || !Array.isArray(line.labels))
          throw new Error('node without id or labels');
        codec.decodeProperties(line.properties);
        nodeIds.add(line.id);
        counts.nodes++;
      } else if (line.kind === 'relationship') {
        if (typeof line.type !== 'string' || typeof line.start !== 'string' || typeof line.end !== 'string')
          throw new Error('relationship without type, start or end');
        // the import clears the database first: a dangling relationship must stop it here
        const missing = !nodeIds.has(line.start) ? 'start' : !nodeIds.has(line.end) ? 'end' : undefined;
        if (missing) throw new Error(`its ${missing} node ${line[missing]} is not in the file`);
        codec.decodeProperties(line.properties);
        if (sampleRelIds.has(line.id))
          sampleRels.set(line.id, { start: line.start, end: line.end, type: line.type });
        counts.relationships++;
      } else if (line.kind === 'end') {
        end = line;
      }
    } catch (err) {
      const id = (line as { id?: unknown }).id;
      throw badFile(label, `${line.kind}${id ? ` ${id}` : ''}: ${(err as Error).message}`);
    }
  }
  if (!header) throw badFile(label, 'the file is empty');
  if (!end) throw badFile(label, 'no end line (the file is truncated)');
  if (end.counts?.nodes !== counts.nodes || end.counts?.relationships !== counts.relationships)
    throw badFile(
      label,
      `the end line says ${end.counts?.nodes} nodes / ${end.counts?.relationships} relationships, the file holds ${counts.nodes} / ${counts.relationships}`,
    );
  return { header, schema, counts, sampleRels };
}
