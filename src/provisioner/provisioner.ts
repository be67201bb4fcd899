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
  type GrantRoleInput,
} from './role-plan.js';

export interface GrantRole {
  readonly role: string;
  readonly password: string;
}

export async function createGrantRole(
  admin: pg.Pool,
  input: Omit<GrantRoleInput, 'password'>,
): Promise<GrantRole> {
  const password = randomBytes(24).toString('base64url');
  const plan = planGrantRole({ ...input, password });
  await inTransaction(admin, plan.statements);
  return { role: plan.role, password };
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
  await inTransaction(admin, [`drop owned by ${r}`, `drop role ${r}`]);
  return { terminated: killed.rows.filter((row) => row.ok).length };
}

/** Removes the roles of grants that are no longer active (after a crash, or grants ended elsewhere). */
export async function sweepGrantRoles(
  admin: pg.Pool,
  isActive: (grantId: string) => Promise<boolean>,
): Promise<string[]> {
  const roles = await admin.query<{ rolname: string; comment: string | null }>(
    `select rolname, shobj_description(oid, 'pg_authid') as comment from pg_roles where rolname like $1`,
    [`${ROLE_PREFIX}%`],
  );
  const removed: string[] = [];
  for (const { rolname, comment } of roles.rows) {
    const grantId = grantIdOfComment(comment);
    if (grantId !== undefined && (await isActive(grantId))) continue;
    await dropGrantRole(admin, rolname);
    removed.push(rolname);
  }
  return removed;
}

async function inTransaction(admin: pg.Pool, statements: readonly string[]): Promise<void> {
  const client = await admin.connect();
  try {
    await client.query('begin');
    for (const statement of statements) await client.query(statement);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
