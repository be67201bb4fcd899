/**
 * Ephemeral database roles in the protected database, through an account that needs CREATEROLE and nothing more
 * (it must hold, with GRANT OPTION or as owner, the privileges it passes on). Creation is one transaction. Removal
 * closes the door first (NOLOGIN), then ends every session of the role, then drops it — so no login slips in between.
 * `VALID UNTIL` is the backstop when phigate is down; `sweep` removes roles of grants that ended while it was.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import {
  grantIdOfComment,
  planGrantRole,
  quoteIdent,
  ROLE_PREFIX,
  roleNameFor,
  type GrantRoleInput,
} from './role-plan.js';

export interface GrantRole {
  readonly role: string;
  readonly password: string;
}

/** Creates the grant's role; with `password` omitted, a random one (returned). */
export async function createGrantRole(
  admin: pg.Pool,
  input: Omit<GrantRoleInput, 'password'> & { readonly password?: string },
): Promise<GrantRole> {
  const password = input.password ?? randomBytes(24).toString('base64url');
  const plan = planGrantRole({ ...input, password });
  await inTransaction(admin, plan.statements);
  return { role: plan.role, password };
}

/**
 * Creates the role unless it exists already (another replica, or an earlier connection, made it). Two replicas
 * racing both succeed: the loser's `duplicate_object` means the winner's role is there.
 */
export async function ensureGrantRole(
  admin: pg.Pool,
  input: Omit<GrantRoleInput, 'password'> & { readonly password: string },
): Promise<GrantRole> {
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
  const exists = await admin.query('select 1 from pg_roles where rolname = $1', [role]);
  if (exists.rowCount === 0) return { terminated: 0 };
  const r = quoteIdent(role);
  await admin.query(`alter role ${r} nologin`);
  const killed = await admin.query<{ ok: boolean }>(
    'select pg_terminate_backend(pid) as ok from pg_stat_activity where usename = $1',
    [role],
  );
  // DROP OWNED needs the role's privileges: since PostgreSQL 16 a CREATEROLE account only administers the roles it
  // made, so it first takes membership (which it may grant, as their admin), then drops.
  await inTransaction(admin, [`grant ${r} to current_user`, `drop owned by ${r}`, `drop role ${r}`]);
  return { terminated: killed.rows.filter((row) => row.ok).length };
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
  return { removed, failed };
}

/**
 * Every privilege change phigate makes in one database runs under this transaction-level advisory lock: two GRANTs
 * on the same table from concurrent transactions (grants activating together, replicas racing) would otherwise fail
 * with "tuple concurrently updated" on the table's ACL.
 */
const PROVISIONING_LOCK = 0x70686967; // "phig"

async function inTransaction(admin: pg.Pool, statements: readonly string[]): Promise<void> {
  const client = await admin.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [PROVISIONING_LOCK]);
    for (const statement of statements) await client.query(statement);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
