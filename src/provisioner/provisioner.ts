/**
 * Ephemeral database roles in the protected database, through an account that needs CREATEROLE, CREATE on the
 * database (for phigate's schemas) and the table privileges its views use — nothing more. Creation is one
 * transaction: phigate's schema if missing, the views the grant needs if no earlier grant made the same ones, the
 * role with privileges on those views only, and the grant's patient set. Removal closes the door first (NOLOGIN),
 * then ends every session of the role, then drops it — so no login slips in between. `VALID UNTIL` is the backstop
 * when phigate is down; `sweep` removes roles of grants that ended while it was, and views no grant uses any more.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { TableAccess } from '../policy/types.js';
import { isTextual } from './mask-sql.js';
import { ensureMetaSchema } from './meta-schema.js';
import { grantIdOfComment, planGrantRole, ROLE_PREFIX, roleNameFor } from './role-plan.js';
import { quoteIdent } from './sql-names.js';
import {
  GRANT_PATIENTS,
  patientIdTable,
  planViews,
  tablesOf,
  VIEW_SCHEMA_PREFIX,
  type ColumnTypes,
} from './view-plan.js';

export interface GrantRoleSpec {
  /** The access request id (a UUID). */
  readonly grantId: string;
  readonly expiresAt: Date;
  readonly database: string;
  readonly access: readonly TableAccess[];
  /** The grant's patients; none for a grant that is not patient-scoped. */
  readonly patientIds: readonly string[];
  readonly connectionLimit?: number;
}

export interface GrantRole {
  readonly role: string;
  readonly password: string;
  /** The schema of the views the role reads through. */
  readonly viewSchema: string;
}

/** A grant the database cannot carry out as the policy says (a column missing, a mask its type cannot take…). */
export class ProvisioningError extends Error {}

async function columnTypes(client: pg.PoolClient, tables: readonly string[]): Promise<ColumnTypes> {
  const rows = await client.query<{ tbl: string; col: string; type: string }>(
    `select n.nspname || '.' || c.relname as tbl, a.attname as col, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname || '.' || c.relname = any($1) and a.attnum > 0 and not a.attisdropped`,
    [tables],
  );
  const types = new Map<string, Map<string, string>>();
  for (const { tbl, col, type } of rows.rows) {
    const columns = types.get(tbl) ?? new Map<string, string>();
    columns.set(col, type);
    types.set(tbl, columns);
  }
  for (const table of tables)
    if (!types.has(table)) throw new ProvisioningError(`table ${table} does not exist`);
  return types;
}

/** Stores the grant's patients, after checking each id fits the type of every patient id column it is compared to. */
async function storePatients(
  client: pg.PoolClient,
  role: string,
  access: readonly TableAccess[],
  types: ColumnTypes,
  patientIds: readonly string[],
): Promise<void> {
  const idTypes = new Set<string>();
  for (const a of access) {
    const path = a.patientPath;
    if (path === undefined) continue;
    const type = types.get(patientIdTable(a.table, path))?.get(path.idColumn);
    if (type !== undefined && !isTextual(type)) idTypes.add(type);
  }
  for (const type of idTypes) {
    try {
      await client.query(`select $1::text[]::${type}[]`, [patientIds]);
    } catch {
      // The database's message would quote the id; an error message is no place for a patient identifier.
      throw new ProvisioningError(`a patient id of this grant is not a valid ${type}`);
    }
  }
  await client.query(
    `insert into ${GRANT_PATIENTS} (role_name, patient_id) select $1, id from unnest($2::text[]) as id on conflict do nothing`,
    [role, [...new Set(patientIds)]],
  );
}

/** Creates the grant's role; with `password` omitted, a random one (returned). */
export async function createGrantRole(
  admin: pg.Pool,
  input: GrantRoleSpec & { readonly password?: string },
): Promise<GrantRole> {
  const password = input.password ?? randomBytes(24).toString('base64url');
  const scoped = input.patientIds.length > 0;
  return inTransaction(admin, async (client) => {
    await ensureMetaSchema(client);
    const types = await columnTypes(client, tablesOf(input.access));
    let views;
    try {
      views = planViews({ access: input.access, scoped, types });
    } catch (err) {
      throw new ProvisioningError((err as Error).message);
    }
    const exists = await client.query('select 1 from pg_namespace where nspname = $1', [views.schema]);
    if (exists.rowCount === 0) for (const statement of views.statements) await client.query(statement);
    const plan = planGrantRole({ ...input, views, password });
    for (const statement of plan.statements) await client.query(statement);
    if (scoped) await storePatients(client, plan.role, input.access, types, input.patientIds);
    return { role: plan.role, password, viewSchema: views.schema };
  });
}

/**
 * Creates the role unless it exists already (another replica, or an earlier connection, made it). Two replicas
 * racing both succeed: the loser's `duplicate_object` means the winner's role is there.
 */
export async function ensureGrantRole(
  admin: pg.Pool,
  input: GrantRoleSpec & { readonly password: string },
): Promise<Omit<GrantRole, 'viewSchema'>> {
  const role = roleNameFor(input.grantId);
  const exists = await admin.query('select 1 from pg_roles where rolname = $1', [role]);
  if (exists.rowCount === 0) {
    try {
      await createGrantRole(admin, input);
    } catch (err) {
      // 42710 duplicate_object; 23505 when the other transaction committed while this one waited on the name.
      const code = (err as { code?: string }).code;
      if (code !== '42710' && code !== '23505') throw err;
    }
  }
  return { role, password: input.password };
}

/** Ends a grant's role: no new logins, live sessions terminated, privileges revoked, role dropped. Idempotent. */
export async function dropGrantRole(admin: pg.Pool, role: string): Promise<{ terminated: number }> {
  if (!role.startsWith(ROLE_PREFIX)) throw new RangeError(`${role} is not a phigate grant role`);
  const r = quoteIdent(role);
  // Every replica that hears of a grant's end drops its role, so drops race by design. Each step runs under the
  // provisioning lock and looks again whether the role is still there: the replica that comes second finds the
  // work done instead of failing ("role does not exist", "tuple concurrently updated").
  const closed = await inTransaction(admin, async (client) => {
    if (!(await roleExists(client, role))) return false;
    await client.query(`alter role ${r} nologin`);
    return true;
  });
  if (!closed) return { terminated: 0 };
  // After the NOLOGIN has committed, so that no new session slips in between the termination and the drop.
  const killed = await admin.query<{ ok: boolean }>(
    'select pg_terminate_backend(pid) as ok from pg_stat_activity where usename = $1',
    [role],
  );
  // DROP OWNED needs the role's privileges: since PostgreSQL 16 a CREATEROLE account only administers the roles it
  // made, so it first takes membership (which it may grant, as their admin), then drops.
  await inTransaction(admin, async (client) => {
    if (!(await roleExists(client, role))) return;
    for (const statement of [`grant ${r} to current_user`, `drop owned by ${r}`, `drop role ${r}`])
      await client.query(statement);
    if (await hasMetaSchema(client))
      await client.query(`delete from ${GRANT_PATIENTS} where role_name = $1`, [role]);
  });
  return { terminated: killed.rows.filter((row) => row.ok).length };
}

async function roleExists(client: pg.PoolClient, role: string): Promise<boolean> {
  return ((await client.query('select 1 from pg_roles where rolname = $1', [role])).rowCount ?? 0) > 0;
}

/**
 * Removes the roles of grants that are no longer active (after a crash, or grants ended elsewhere). Role names are
 * cluster-wide, so only roles admitted to this database (CONNECT granted here) are considered: another resource on
 * the same server has its own sweep, and its roles' privileges live in its own database. A role that cannot be
 * removed is reported and the sweep goes on with the others.
 */
export async function sweepGrantRoles(
  admin: pg.Pool,
  isActive: (grantId: string) => Promise<boolean>,
): Promise<{ removed: string[]; failed: { role: string; error: unknown }[] }> {
  const roles = await admin.query<{ rolname: string; comment: string | null }>(
    `select r.rolname, shobj_description(r.oid, 'pg_authid') as comment
       from pg_roles r
      where r.rolname like $1
        and exists (select 1 from pg_database d, aclexplode(d.datacl) a
                     where d.datname = current_database() and a.grantee = r.oid)`,
    [`${ROLE_PREFIX}%`],
  );
  const removed: string[] = [];
  const failed: { role: string; error: unknown }[] = [];
  for (const { rolname, comment } of roles.rows) {
    const grantId = grantIdOfComment(comment);
    if (grantId !== undefined && (await isActive(grantId))) continue;
    try {
      await dropGrantRole(admin, rolname);
      removed.push(rolname);
    } catch (error) {
      failed.push({ role: rolname, error });
    }
  }
  await inTransaction(admin, removeUnusedViews);
  return { removed, failed };
}

async function hasMetaSchema(client: pg.PoolClient): Promise<boolean> {
  const found = await client.query<{ ok: boolean }>(
    `select to_regclass('${GRANT_PATIENTS.replaceAll("'", "''")}') is not null as ok`,
  );
  return found.rows[0]?.ok === true;
}

/** Views no role may use any more (their grants ended), and patient sets of roles that are gone. */
async function removeUnusedViews(client: pg.PoolClient): Promise<void> {
  const unused = await client.query<{ nspname: string }>(
    `select n.nspname from pg_namespace n
      where n.nspname like $1 and pg_has_role(n.nspowner, 'USAGE')
        and not exists (select 1 from aclexplode(n.nspacl) a where a.grantee <> n.nspowner)`,
    [`${VIEW_SCHEMA_PREFIX.replaceAll('_', '\\_')}%`],
  );
  for (const { nspname } of unused.rows) await client.query(`drop schema ${quoteIdent(nspname)} cascade`);
  if (await hasMetaSchema(client)) {
    await client.query(
      `delete from ${GRANT_PATIENTS} g where not exists (select 1 from pg_roles r where r.rolname = g.role_name)`,
    );
  }
}

/**
 * Every privilege change phigate makes in one database runs under this transaction-level advisory lock: two GRANTs
 * on the same table from concurrent transactions (grants activating together, replicas racing) would otherwise fail
 * with "tuple concurrently updated" on the table's ACL.
 */
const PROVISIONING_LOCK = 0x70686967; // "phig"

async function inTransaction<T>(admin: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await admin.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [PROVISIONING_LOCK]);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
