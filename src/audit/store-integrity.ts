/**
 * What `phigate audit verify` reports about the store's defences, besides the log's contents: an append-only trigger
 * that is missing, disabled or no longer fires always (a `session_replication_role = replica` session skips it), a
 * trigger function that no longer refuses, UPDATE/DELETE/TRUNCATE granted back to anyone (the owner included), and an
 * audit table owned by another role than the one that migrated the store. Each is a state an insider leaves behind
 * while rewriting rows; put back exactly as it was, it cannot be seen here (docs/audit.md, "What is detected").
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { VerifyProblem } from './log-verifier.js';

const TABLES = ['audit_events', 'audit_tree_nodes', 'audit_checkpoints'] as const;
const TRIGGERS = TABLES.flatMap((t) => [`${t}_no_update`, `${t}_no_truncate`]);
/** The migrations' own table: whoever owns it migrated the store, and owns the log's tables. */
const MIGRATIONS_TABLE = 'phigate_migrations';

export async function storeDefenceProblems(db: Db): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  const triggers = await sql<{ table: string; name: string; enabled: string }>`
    select c.relname as table, t.tgname as name, t.tgenabled as enabled
      from pg_trigger t join pg_class c on c.oid = t.tgrelid
     where c.relnamespace = current_schema()::regnamespace and c.relname = any(${TABLES}::text[])
       and not t.tgisinternal`.execute(db);
  const found = new Map(triggers.rows.map((t) => [t.name, t]));
  for (const name of TRIGGERS) {
    const t = found.get(name);
    if (t === undefined) {
      problems.push({ code: 'store.trigger-missing', message: `the append-only trigger ${name} is gone` });
    } else if (t.enabled === 'D') {
      problems.push({
        code: 'store.trigger-disabled',
        message: `the append-only trigger ${name} on ${t.table} is disabled: rows can be changed now`,
      });
    } else if (t.enabled !== 'A') {
      problems.push({
        code: 'store.trigger-not-always',
        message: `the append-only trigger ${name} on ${t.table} no longer fires always: a replica-role session skips it`,
      });
    }
  }
  const fn = await sql<{ src: string }>`
    select prosrc as src from pg_proc
     where proname = 'audit_events_append_only' and pronamespace = current_schema()::regnamespace`.execute(
    db,
  );
  if (fn.rows.length !== 1 || !/raise\s+exception/i.test(fn.rows[0]!.src)) {
    problems.push({
      code: 'store.trigger-function-changed',
      message: 'the append-only trigger function no longer raises an exception',
    });
  }
  const grants = await sql<{ table: string; grantee: string; privilege: string; acl_set: boolean }>`
    select c.relname as table, coalesce(r.rolname, 'PUBLIC') as grantee, a.privilege_type as privilege,
           c.relacl is not null as acl_set
      from pg_class c
      left join lateral aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a on true
      left join pg_roles r on r.oid = a.grantee
     where c.relnamespace = current_schema()::regnamespace and c.relname = any(${TABLES}::text[])
       and a.privilege_type in ('UPDATE', 'DELETE', 'TRUNCATE')`.execute(db);
  for (const g of grants.rows) {
    problems.push({
      code: 'store.privilege-granted',
      message: `${g.grantee} holds ${g.privilege} on ${g.table}${g.acl_set ? '' : ' (the default privileges are back)'}`,
    });
  }
  const owners = await sql<{ table: string; owner: string; expected: string | null }>`
    select c.relname as table, pg_get_userbyid(c.relowner) as owner,
           (select pg_get_userbyid(m.relowner) from pg_class m
             where m.relname = ${MIGRATIONS_TABLE} and m.relnamespace = c.relnamespace) as expected
      from pg_class c
     where c.relnamespace = current_schema()::regnamespace and c.relname = any(${[...TABLES, 'audit_head']}::text[])`.execute(
    db,
  );
  for (const o of owners.rows) {
    if (o.expected !== null && o.owner !== o.expected) {
      problems.push({
        code: 'store.owner-changed',
        message: `${o.table} is owned by ${o.owner}, not by ${o.expected} (who migrated the store)`,
      });
    }
  }
  return problems;
}
