/**
 * Where benchmarks run: the embedded PostgreSQL in a temporary directory, or the server named by
 * PHIGATE_BENCH_DATABASE_URL. Each run gets a fresh database, migrated, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../src/store/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/store/embedded-postgres.js';
import { migrateToLatest } from '../src/store/migrate.js';

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export async function withServer<T>(fn: (adminUrl: string) => Promise<T>): Promise<T> {
  const external = process.env.PHIGATE_BENCH_DATABASE_URL;
  if (external) return fn(external);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'phigate-bench-pg-'));
  let server: EmbeddedPostgres | undefined;
  try {
    server = await startEmbeddedPostgres({ dataDir });
    return await fn(server.url);
  } finally {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function admin(url: string, statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** A fresh, migrated database on the server; `drop()` closes and removes it. */
export async function benchDatabase(
  adminUrl: string,
): Promise<DatabaseHandle & { readonly url: string; drop(): Promise<void> }> {
  const name = `phigate_bench_${randomBytes(4).toString('hex')}`;
  await admin(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = openDatabase(url.toString(), { maxConnections: 40 });
  await migrateToLatest(handle.db as never);
  return {
    ...handle,
    url: url.toString(),
    async drop() {
      await handle.close();
      await admin(adminUrl, `drop database ${name}`);
    },
  };
}
