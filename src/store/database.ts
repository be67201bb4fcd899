import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  /** The pool, for the few things Kysely does not model (LISTEN/NOTIFY clients). */
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

const INT8_OID = 20;

/** Our bigints are millisecond durations and counters, far below 2^53: read them as numbers. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : (pg.types.getTypeParser(oid, format ?? 'text') as unknown)) as typeof pg.types.getTypeParser,
};

export function openDatabase(url: string, options: { maxConnections?: number } = {}): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 20,
    types,
    application_name: 'phigate',
  });
  // An idle client that loses its server (restart, failover) must not crash the process; the next query retries.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed: Promise<void> | undefined;
  return {
    db,
    pool,
    close: () => (closed ??= db.destroy()),
  };
}
