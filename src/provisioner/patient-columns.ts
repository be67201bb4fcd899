/**
 * Where a grant's role reads values that name patients: the columns of its views that the policy's `patientKey`
 * paths name (policy/phi.ts `patientColumnsOf`: the key, and the foreign keys on the way to it), by relation OID and
 * column number — the terms in which PostgreSQL describes a result's columns — so that the gateway can tell which
 * patients a statement returned.
 */
import type pg from 'pg';
import { patientColumnsOf, type PatientAnchor } from '../policy/phi.js';
import type { PhiTable, TableAccess } from '../policy/types.js';
import { qualifiedTable } from './sql-names.js';
import { VIEW_SCHEMA_PREFIX } from './view-plan.js';

export interface PatientIdColumn {
  readonly relation: number;
  readonly attnum: number;
  /** The policy's name of the table the view shows. */
  readonly table: string;
  readonly column: string;
  /** The column's SQL type, as `format_type` prints it (for the look-up of its values). */
  readonly type: string;
  /** How a value becomes the patient's key; undefined: the value is the key. */
  readonly anchor: PatientAnchor | undefined;
}

export async function patientIdColumns(
  admin: pg.Pool,
  role: string,
  access: readonly TableAccess[],
  phi: ReadonlyMap<string, PhiTable>,
): Promise<PatientIdColumn[]> {
  const wanted = access.flatMap((a) =>
    patientColumnsOf(a, phi).map((rule) => ({ table: a.table, view: qualifiedTable(a.table).name, ...rule })),
  );
  if (wanted.length === 0) return [];
  // The role's own views: those of phigate's view schemas it may read (one schema per grant shape).
  const found = await admin.query<{ relation: string; attnum: number; i: number; type: string }>(
    `select c.oid::text as relation, a.attnum, w.i::int as i, format_type(a.atttypid, a.atttypmod) as type
       from unnest($2::text[], $3::text[]) with ordinality as w(view_name, column_name, i)
       join pg_class c on c.relname = w.view_name and c.relkind = 'v'
       join pg_namespace n on n.oid = c.relnamespace and n.nspname like $4
       join pg_attribute a on a.attrelid = c.oid and a.attname = w.column_name
      where has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE')`,
    [
      role,
      wanted.map((w) => w.view),
      wanted.map((w) => w.column),
      `${VIEW_SCHEMA_PREFIX.replaceAll('_', '\\_')}%`,
    ],
  );
  return found.rows.map((r) => {
    const w = wanted[r.i - 1]!;
    return {
      relation: Number(r.relation),
      attnum: r.attnum,
      table: w.table,
      column: w.column,
      type: r.type,
      anchor: w.anchor,
    };
  });
}
