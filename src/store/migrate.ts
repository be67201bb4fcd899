import { Migrator, type Kysely } from 'kysely';
import { migrations } from './migrations/index.js';

/**
 * Applies pending migrations. Kysely's migrator takes a PostgreSQL advisory lock, so replicas starting together on
 * one store apply each migration exactly once.
 */
export async function migrateToLatest(db: Kysely<unknown>, upTo?: string): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    migrationTableName: 'phigate_migrations',
    migrationLockTableName: 'phigate_migrations_lock',
  });
  // `upTo` stops at an older schema: only tests of a migration over data written by its predecessor use it.
  const { error, results } = await (upTo === undefined
    ? migrator.migrateToLatest()
    : migrator.migrateTo(upTo));
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
