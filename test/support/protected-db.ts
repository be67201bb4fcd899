/**
 * A protected database for gateway tests: the demo's synthetic clinic, created under names of its own (roles are
 * per server, and test files run in parallel), with its provisioning account set up as docs/provisioner.md says.
 * `drop()` removes the database, any grant roles that still have privileges there, and the accounts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { UpstreamConfig } from '../../src/config/schema.js';
import { prepareDemoClinic } from '../../src/demo/demo-clinic.js';
import { primaryTarget } from './database.js';

export interface ProtectedDatabase {
  readonly upstream: UpstreamConfig;
  readonly database: string;
  /** A superuser URL of the protected database (setup the test does itself, e.g. `pgbench -i`). */
  readonly superuserUrl: string;
  /** Superuser access to the protected database (for the test's own checks). */
  query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function createProtectedDatabase(): Promise<ProtectedDatabase> {
  const suffix = randomBytes(5).toString('hex');
  const names = { database: `clinic_${suffix}`, owner: `owner_${suffix}`, provisioner: `prov_${suffix}` };
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-clinic-'));
  const superuserUrl = primaryTarget().adminUrl;
  const upstream = await prepareDemoClinic({ superuserUrl, dataDir: dir, names });
  const url = new URL(superuserUrl);
  url.pathname = `/${names.database}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // pool.end() resolves before its connections have closed: the forced drop below may terminate one still closing,
  // and that error must not reach the test as an uncaught exception.
  pool.on('error', () => undefined);
  return {
    upstream,
    database: names.database,
    superuserUrl: url.toString(),
    async query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]) {
      return (await pool.query<T>(sql, values)).rows;
    },
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: superuserUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${names.database} with (force)`);
        // Grant roles this database's provisioner made and did not drop (a failed test): they hold no objects now.
        const left = await c.query<{ rolname: string }>(
          `select r.rolname from pg_roles r join pg_auth_members m on m.roleid = r.oid
             join pg_roles p on p.oid = m.member where p.rolname = $1 and r.rolname like 'phigate\\_g\\_%'`,
          [names.provisioner],
        );
        for (const { rolname } of left.rows) await c.query(`drop role if exists "${rolname}"`);
        await c.query(`drop role if exists ${names.provisioner}`);
        await c.query(`drop role if exists ${names.owner}`);
      } finally {
        await c.end();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
