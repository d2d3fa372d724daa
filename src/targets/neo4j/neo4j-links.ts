/**
 * The Neo4j side of a link between the stores (docs/consistency.md): every distinct value of
 * one property on the nodes of one label, read over Bolt with a read query.
 */
import type { LinkConfig } from '../../config/schema.js';
import type { LinkSideReader } from '../target.js';
import { type BoltOptions, boltError, connectBolt } from './neo4j-bolt.js';

/** A label or property name as a Cypher identifier. */
export const cypherName = (s: string) => `\`${s.replace(/`/g, '``')}\``;

/** Every distinct value of `property` on `:label` nodes (each element of a list value). */
export async function neo4jKeys(bolt: BoltOptions, label: string, property: string): Promise<string[]> {
  const { neo4j, driver } = await connectBolt(bolt);
  try {
    const p = `n.${cypherName(property)}`;
    const query = `MATCH (n:${cypherName(label)}) WHERE ${p} IS NOT NULL
      UNWIND (CASE WHEN valueType(${p}) STARTS WITH 'LIST' THEN ${p} ELSE [${p}] END) AS k
      RETURN DISTINCT toString(k) AS k`;
    const res = await driver.executeQuery(
      query,
      {},
      { database: bolt.database, routing: neo4j.routing.READ },
    );
    return res.records.map((r) => String(r.get('k')));
  } catch (err) {
    throw boltError(bolt, `read :${label}.${property}`, err);
  } finally {
    await driver.close();
  }
}

/** The Neo4j side of `link`: read before the dump (or export) of the database. */
export function neo4jLinkSide(bolt: BoltOptions, link: LinkConfig): LinkSideReader {
  const { label, property } = link.neo4j;
  return {
    scope: bolt.database,
    where: `:${label}.${property}`,
    read: () => neo4jKeys(bolt, label, property),
  };
}
