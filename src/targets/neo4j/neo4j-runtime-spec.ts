/**
 * Which Neo4j a runtime drives, as stored in the "stopped" marker so another run (or the guardian)
 * can restart it. Its own file: the marker and the runtime both need it, and the runtime records
 * its children in the marker.
 */
export type RuntimeSpec = { kind: 'local'; home: string } | { kind: 'docker'; container: string };
