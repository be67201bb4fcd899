/**
 * Throw-away databases for integration tests, on real PostgreSQL: the embedded server that `npm test` starts, and
 * the external one named by PHIGATE_TEST_DATABASE_URL when it is set.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrate.js';

export interface TestTarget {
  readonly name: 'embedded' | 'external';
  readonly adminUrl: string;
}

export function testTargets(): TestTarget[] {
  const targets: TestTarget[] = [];
  const embedded = process.env.PHIGATE_TEST_EMBEDDED_URL;
  const external = process.env.PHIGATE_TEST_DATABASE_URL;
  if (embedded) targets.push({ name: 'embedded', adminUrl: embedded });
  if (external) targets.push({ name: 'external', adminUrl: external });
  if (targets.length === 0) {
    throw new Error(
      'no test PostgreSQL: run the suite with `npm test` (it starts one) or set PHIGATE_TEST_DATABASE_URL',
    );
  }
  return targets;
}

/** The server most tests use: the external one when given (as in CI), otherwise the embedded one. */
export function primaryTarget(): TestTarget {
  const targets = testTargets();
  return targets.find((t) => t.name === 'external') ?? targets[0]!;
}

export interface TestDatabase extends DatabaseHandle {
  readonly url: string;
  readonly name: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (no migrations), for tests of migrations or of other databases (the gateway's). */
export async function createEmptyDatabase(
  target: TestTarget = primaryTarget(),
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `phigate_t_${randomBytes(6).toString('hex')}`;
  await admin(target.adminUrl, (c) => c.query(`create database ${name}`));
  const url = new URL(target.adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      admin(target.adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`)).then(
        () => undefined,
      ),
  };
}

/** A fresh, migrated phigate store. */
export async function createTestDatabase(target: TestTarget = primaryTarget()): Promise<TestDatabase> {
  const empty = await createEmptyDatabase(target);
  const handle = openDatabase(empty.url);
  await migrateToLatest(handle.db as never);
  return {
    ...handle,
    url: empty.url,
    name: empty.name,
    async drop() {
      await handle.close();
      await empty.drop();
    },
  };
}
