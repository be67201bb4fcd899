/**
 * Whether the patients a request names exist: how many of them the resource's patient table holds, asked in one
 * query for all of them. The patient table is where the role's tables lead to a patient (the PHI declaration's
 * `patientKey` chains, policy/phi.ts) — for a role that reaches no PHI table, every such table of the resource —
 * and an id exists when one of them holds it. Runs as the provisioning account (lookup.ts), which reads these tables
 * already for care relations.
 *
 * Ids are text in a request; they are compared with the key column as the grant's views compare them
 * (view-plan.ts): as they are with a textual column, cast to the column's type otherwise, so that its index serves.
 * An id that is no value of that type (`MRN-1` against an integer key) cannot exist, but its cast fails the query —
 * and PostgreSQL's message would quote it. Then the ids are compared as text instead (no index, bounded by the
 * look-up's timeout), which only a request naming such an id pays for; nothing of the database's message is kept.
 * Compared as text, an id spelled otherwise than the database writes it (`007`, an upper-case uuid) counts as unknown
 * too: the request is refused either way, only the count of unknown ids may then be higher than strictly true.
 */
import type pg from 'pg';
import type { ResourceDefinition, RoleDefinition } from '../policy/types.js';
import { readOnlyLookup } from './lookup.js';
import { isTextual } from './mask-sql.js';
import { qualifiedTable, quoteIdent } from './sql-names.js';
import { patientIdTable } from './view-plan.js';

/** A column holding the patient ids that requests name. */
export interface PatientKeyColumn {
  /** Schema-qualified, as the policy writes it. */
  readonly table: string;
  readonly column: string;
}

/** Where the role's patient ids live: the key columns its tables lead to, else the resource's. Pure. */
export function patientKeyColumns(resource: ResourceDefinition, role: RoleDefinition): PatientKeyColumn[] {
  const keys = new Map<string, PatientKeyColumn>();
  const add = (table: string, path: NonNullable<RoleDefinition['access'][number]['patientPath']>): void => {
    const key = { table: patientIdTable(table, path), column: path.idColumn };
    keys.set(`${key.table}\u0000${key.column}`, key);
  };
  for (const a of role.access) if (a.patientPath !== undefined) add(a.table, a.patientPath);
  if (keys.size === 0)
    for (const t of resource.phi.values()) if (t.patientPath !== undefined) add(t.table, t.patientPath);
  return [...keys.values()];
}

/** The count query: `typed` compares with each column's type (index), otherwise as text (any id). Pure. */
export function knownPatientsQuery(
  keys: readonly (PatientKeyColumn & { readonly type: string })[],
  typed: boolean,
): string {
  const tests = keys.map((k) => {
    const column = `t.${quoteIdent(k.column)}`;
    const from = qualifiedTable(k.table).sql;
    if (!typed) return `x.id in (select ${column}::text from ${from} t)`;
    const id = isTextual(k.type) ? 'x.id' : `x.id::${k.type}`;
    return `exists (select 1 from ${from} t where ${column} = ${id})`;
  });
  return `select count(*)::int as n from unnest($1::text[]) as x(id) where ${tests.join(' or ')}`;
}

/** A key column the database does not have: the policy and the database disagree. */
export class PatientKeyError extends Error {}

/** How many of `ids` (distinct) exist in at least one of the key columns. */
export async function countKnownPatients(
  pool: pg.Pool,
  keys: readonly PatientKeyColumn[],
  ids: readonly string[],
): Promise<number> {
  if (keys.length === 0) throw new RangeError('no patient key column to look in');
  const distinct = [...new Set(ids)];
  return readOnlyLookup(pool, async (client) => {
    const typed = await keyTypes(client, keys);
    await client.query('savepoint typed');
    try {
      const found = await client.query<{ n: number }>(knownPatientsQuery(typed, true), [distinct]);
      return found.rows[0]!.n;
    } catch (err) {
      // Class 22 (data exception): some id is no value of its column's type. Anything else is a real failure.
      if (!/^22/.test(String((err as { code?: unknown }).code))) throw err;
    }
    await client.query('rollback to savepoint typed');
    const found = await client.query<{ n: number }>(knownPatientsQuery(typed, false), [distinct]);
    return found.rows[0]!.n;
  });
}

/** Each key column's type, without modifiers (a cast to `varchar(8)` or `numeric(5)` would alter the id). */
async function keyTypes(
  client: pg.PoolClient,
  keys: readonly PatientKeyColumn[],
): Promise<(PatientKeyColumn & { readonly type: string })[]> {
  const names = keys.map((k) => qualifiedTable(k.table));
  const found = await client.query<{ i: string; type: string }>(
    `select k.i::text as i, format_type(a.atttypid, null) as type
       from unnest($1::text[], $2::text[], $3::text[]) with ordinality as k(schema_name, table_name, column_name, i)
       join pg_namespace n on n.nspname = k.schema_name
       join pg_class c on c.relnamespace = n.oid and c.relname = k.table_name
       join pg_attribute a on a.attrelid = c.oid and a.attname = k.column_name and a.attnum > 0
        and not a.attisdropped`,
    [names.map((n) => n.schema), names.map((n) => n.name), keys.map((k) => k.column)],
  );
  const types = new Map(found.rows.map((r) => [Number(r.i) - 1, r.type]));
  return keys.map((k, i) => {
    const type = types.get(i);
    if (type === undefined)
      throw new PatientKeyError(`patient key column ${k.table}.${k.column} does not exist`);
    return { ...k, type };
  });
}
