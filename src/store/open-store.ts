import pg from 'pg';
import { openDatabase, type DatabaseHandle } from './database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { migrateToLatest } from './migrate.js';

export interface StoreOptions {
  /** External PostgreSQL (the production path). Without it, phigate runs its own embedded server. */
  readonly databaseUrl?: string | undefined;
  /** Where the embedded server keeps its cluster (persistent across starts). */
  readonly dataDir: string;
  readonly onPostgresLog?: (line: string) => void;
  /** What phigate did on the machine for the embedded server (created its user, moved its cluster), said once. */
  readonly onNotice?: (message: string) => void;
}

export interface Store extends DatabaseHandle {
  /** Connection string of phigate's own database (contains a password: never print it). */
  readonly url: string;
  /** Present when phigate started its own PostgreSQL; later modules host the demo's protected database there. */
  readonly embedded: EmbeddedPostgres | undefined;
  /** Names of the migrations this start applied (empty when the schema was current). */
  readonly applied: readonly string[];
}

const EMBEDDED_DATABASE = 'phigate';

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Opens phigate's store: connects (starting the embedded server if needed) and applies migrations. */
export async function openStore(options: StoreOptions): Promise<Store> {
  let embedded: EmbeddedPostgres | undefined;
  let url = options.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({
      dataDir: `${options.dataDir}/postgres`,
      ...(options.onPostgresLog ? { onLog: options.onPostgresLog } : {}),
      ...(options.onNotice ? { onNotice: options.onNotice } : {}),
    });
    try {
      url = await ensureDatabase(embedded.url, EMBEDDED_DATABASE);
    } catch (err) {
      await embedded.stop();
      throw err;
    }
  }
  const handle = openDatabase(url);
  let applied: string[];
  try {
    applied = await migrateToLatest(handle.db as never);
  } catch (err) {
    await handle.close();
    await embedded?.stop();
    throw err;
  }
  return {
    ...handle,
    url,
    embedded,
    applied,
    async close() {
      await handle.close();
      await embedded?.stop();
    },
  };
}
