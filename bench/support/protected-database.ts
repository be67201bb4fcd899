/**
 * The benchmarks' protected database and phigate store in one embedded PostgreSQL: the database with its SYNTHETIC
 * data, and the provisioning account phigate uses on it, set up as docs/provisioner.md tells a DBA to (CREATEROLE,
 * pg_signal_backend, CONNECT and CREATE on the database, SELECT on its tables).
 */
import pg from 'pg';

export interface ProtectedBenchDatabase {
  /** The provisioning account's URL on the protected database (the gateway resource's `adminUrl`). */
  readonly adminUrl: string;
  /** The superuser's URL on the protected database. */
  readonly url: string;
  /** An empty database for phigate's own store. */
  readonly storeUrl: string;
}

export async function createProtectedBenchDatabase(
  /** The embedded server's superuser URL (its `postgres` database). */
  serverUrl: string,
  database: string,
  /** Fills the database, as the superuser (before the provisioning account's SELECT is granted on its tables). */
  seed: (url: string) => Promise<void>,
): Promise<ProtectedBenchDatabase> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${database}`);
    await admin.query('create database phigate_store');
    await admin.query(`create role bench_provisioner login createrole password 'bench-provisioner'`);
    await admin.query('grant pg_signal_backend to bench_provisioner');
  } finally {
    await admin.end();
  }
  const url = serverUrl.replace(/\/postgres$/, `/${database}`);
  await seed(url);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(`grant connect, create on database ${database} to bench_provisioner with grant option`);
    await db.query('grant usage on schema public to bench_provisioner with grant option');
    await db.query('grant select on all tables in schema public to bench_provisioner');
  } finally {
    await db.end();
  }
  const adminUrl = new URL(url);
  adminUrl.username = 'bench_provisioner';
  adminUrl.password = 'bench-provisioner';
  return { adminUrl: adminUrl.toString(), url, storeUrl: serverUrl.replace(/\/postgres$/, '/phigate_store') };
}

/** Runs `sql` on the database at `url` (a seed's usual body). */
export async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
