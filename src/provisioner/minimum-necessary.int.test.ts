/**
 * Minimum necessary, enforced by PostgreSQL itself, seen with `--direct` credentials (no gateway in the way): a grant
 * of the example policy's analyst role, scoped to two synthetic patients, reads masked values of those two patients
 * and nothing else, whatever SQL it writes (ATTACKS 29–35); views are shared between grants and removed when unused.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tableAccess } from '../../test/support/access.js';
import {
  forbiddenValues,
  pgRunner,
  psqlRunner,
  SCOPED_PATIENTS,
  tryEveryBypass,
} from '../../test/support/bypass-attempts.js';
import { createProtectedDatabase, type ProtectedDatabase } from '../../test/support/protected-db.js';
import { psqlAvailable } from '../demo/psql.js';
import { compilePolicyOrThrow } from '../policy/compile.js';
import type { RoleDefinition } from '../policy/types.js';
import { pseudonymOf } from './meta-schema.js';
import { roleNameFor } from './role-plan.js';
import {
  createGrantRole,
  dropGrantRole,
  ProvisioningError,
  sweepGrantRoles,
  type GrantRole,
} from './provisioner.js';

const policy = compilePolicyOrThrow(
  readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8'),
  'clinic-policy.yaml',
);
const analyst = policy.roles.get('analyst-encounters')!;
const oncall = policy.roles.get('oncall-breakglass')!;

describe('minimum necessary in the database (masked views, patient scope), with --direct credentials', () => {
  let db: ProtectedDatabase;
  let admin: pg.Pool;
  const roles: string[] = [];
  const clients: pg.Client[] = [];

  const attempted: string[] = [];
  const grant = async (
    role: Pick<RoleDefinition, 'access'>,
    patientIds: readonly string[],
  ): Promise<GrantRole> => {
    const grantId = randomUUID();
    attempted.push(roleNameFor(grantId));
    const made = await createGrantRole(admin, {
      grantId,
      expiresAt: new Date(Date.now() + 3_600_000),
      database: db.database,
      access: role.access,
      patientIds,
    });
    roles.push(made.role);
    return made;
  };
  const endpoint = (g: GrantRole) => ({
    host: db.upstream.host ?? '127.0.0.1',
    port: db.upstream.port ?? 5432,
    database: db.database,
    user: g.role,
    password: g.password,
    sslmode: 'disable',
  });
  const connect = async (g: GrantRole): Promise<pg.Client> => {
    const client = new pg.Client(endpoint(g));
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    return client;
  };

  before(async () => {
    db = await createProtectedDatabase();
    admin = new pg.Pool({ connectionString: db.upstream.adminUrl, max: 4 });
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    for (const role of roles) await dropGrantRole(admin, role).catch(() => undefined);
    await admin.end();
    await db.drop();
  });

  it('shows no unmasked value and no other patient, whatever the SQL (ATTACKS 29–35)', async () => {
    const g = await grant(analyst, SCOPED_PATIENTS);
    const client = await connect(g);
    const forbidden = await forbiddenValues((sql) => db.query<{ v: string }>(sql));
    assert.ok(forbidden.length > 200, 'the oracle knows the clinic’s identifiers');
    const outcomes = await tryEveryBypass({
      run: pgRunner(client),
      psql: psqlAvailable() ? psqlRunner(endpoint(g)) : undefined,
      forbidden,
    });
    // An inference limit that remains (docs/minimum-necessary.md): EXPLAIN ANALYZE tells how many rows the table has.
    assert.match(outcomes.get('explain analyze select * from patients')!.text, /on patients t .*rows=40\b/);
  });

  it('masks as the policy says: pseudonym, redaction, year, ZIP3 — and keeps the year in UTC whatever the session’s zone', async () => {
    const client = await connect(await grant(analyst, SCOPED_PATIENTS));
    const key = await db.query<{ inner_pad: Buffer }>('select inner_pad from phigate.pseudonym_key');
    const hmacKey = Buffer.from(key[0]!.inner_pad.subarray(0, 32).map((b) => b ^ 0x36));
    const rows = await client.query<Record<string, unknown>>(
      `set timezone = 'Pacific/Kiritimati'; select id, mrn, name, birth_date::text as birth, zip from patients order by id`,
    );
    const result = (rows as unknown as pg.QueryResult[])[1]!.rows;
    assert.deepEqual(result, [
      { id: 1, mrn: pseudonymOf(hmacKey, 'MRN-DEMO-0001'), name: '***', birth: '1951-01-01', zip: '021' },
      { id: 2, mrn: pseudonymOf(hmacKey, 'MRN-DEMO-0002'), name: '***', birth: '1952-01-01', zip: '021' },
    ]);
    const years = await client.query<{ at: string }>(
      `select distinct (admitted_at at time zone 'UTC')::text as at from encounters`,
    );
    assert.deepEqual(years.rows, [{ at: '2025-01-01 00:00:00' }]);
  });

  it('a grant without patients sees every row; one of a treating role sees values as stored', async () => {
    const client = await connect(await grant(oncall, []));
    const all = await client.query<{ n: number; named: number }>(
      "select count(*)::int as n, count(*) filter (where name <> '***')::int as named from patients",
    );
    assert.deepEqual(all.rows, [{ n: 40, named: 40 }]);
  });

  it('keeps writes and RETURNING inside the patient scope, and masked columns read-only', async () => {
    const writer = {
      access: [
        {
          ...tableAccess('public.encounters', ['id', 'patient_id', 'department', 'admitted_at']),
          masks: { id: 'clear', patient_id: 'clear', department: 'clear', admitted_at: 'year' } as const,
          operations: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const,
          phi: true,
          patientPath: {
            hops: [{ column: 'patient_id', table: 'public.patients', referenced: 'id' }],
            idColumn: 'mrn',
          },
        },
      ],
    };
    // New rows get their admission time from the table (the masked column cannot be written through the view).
    await db.query('alter table encounters alter column admitted_at set default now()');
    const client = await connect(await grant(writer, SCOPED_PATIENTS));
    const updated = await client.query<{ patient_id: number }>(
      'update encounters set department = department returning patient_id',
    );
    assert.deepEqual([...new Set(updated.rows.map((r) => r.patient_id))].sort(), [1, 2]);
    await assert.rejects(
      client.query("insert into encounters (id, patient_id, department) values (9001, 3, 'ED')"),
      /violates check option/,
    );
    await client.query("insert into encounters (id, patient_id, department) values (9002, 1, 'ED')");
    await assert.rejects(client.query('update encounters set admitted_at = now()'), /cannot update column/);
    const deleted = await client.query('delete from encounters where id >= 9000 or patient_id = 3');
    assert.equal(deleted.rowCount, 1, 'only the row it inserted; patient 3 is out of reach');
    assert.equal((await db.query('select 1 from encounters where patient_id = 3')).length, 3);
  });

  it('shares views between grants of the same shape, and removes them once no grant uses them', async () => {
    const exists = async (schema: string) =>
      (await db.query('select 1 from pg_namespace where nspname = $1', [schema])).length === 1;
    const a = await grant(analyst, ['MRN-DEMO-0003']);
    const b = await grant(analyst, ['MRN-DEMO-0004']);
    assert.equal(a.viewSchema, b.viewSchema);
    const ca = await connect(a);
    const seen = await ca.query<{ n: number }>('select count(*)::int as n from encounters');
    assert.equal(seen.rows[0]!.n, 3, 'each grant sees its own patients through the same views');
    await ca.end();
    const sets = () => db.query('select 1 from phigate.grant_patients where role_name = $1', [a.role]);
    assert.equal((await sets()).length, 1);
    await dropGrantRole(admin, a.role);
    assert.equal((await sets()).length, 0, 'the patient set goes with the role');

    const unscoped = await grant(analyst, []);
    assert.notEqual(unscoped.viewSchema, a.viewSchema, 'unscoped views are other views');
    await dropGrantRole(admin, unscoped.role);
    assert.ok(await exists(unscoped.viewSchema));
    await sweepGrantRoles(admin, async () => true);
    assert.equal(await exists(unscoped.viewSchema), false, 'the sweep removes views no grant uses');
    assert.equal(await exists(b.viewSchema), true, 'and keeps those a live grant uses');
  });

  it('refuses a grant the database cannot carry out, with a message that names no patient', async () => {
    const byId = {
      access: [
        {
          ...tableAccess('public.patients', ['id']),
          phi: true,
          patientPath: { hops: [], idColumn: 'id' },
        },
      ],
    };
    await assert.rejects(
      grant(byId, ['MRN-DEMO-0001']),
      (e) =>
        e instanceof ProvisioningError && /not a valid integer/.test(e.message) && !e.message.includes('MRN'),
    );
    await assert.rejects(
      grant({ access: [tableAccess('public.patients', ['id', 'favourite_colour'])] }, []),
      (e) =>
        e instanceof ProvisioningError && /public\.patients\.favourite_colour does not exist/.test(e.message),
    );
    // Roles are per server and other test files run beside this one: look for this file's attempts only.
    const refused = attempted.filter((r) => !roles.includes(r));
    assert.equal(refused.length, 2);
    const left = await db.query('select 1 from pg_roles where rolname = any($1)', [refused]);
    assert.equal(left.length, 0, 'a refused grant leaves no role behind');
  });
});
