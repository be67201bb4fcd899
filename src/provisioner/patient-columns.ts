/**
 * Where a grant's role reads patient ids: the columns of its views whose values are patient ids (policy/phi.ts
 * `patientIdColumnOf`), by relation OID and column number — the terms in which PostgreSQL describes a result's
 * columns, so that the gateway can tell which patients a statement returned.
 */
import type pg from 'pg';
import { patientIdColumnOf } from '../policy/phi.js';
import type { TableAccess } from '../policy/types.js';
import { qualifiedTable } from './sql-names.js';
import { VIEW_SCHEMA_PREFIX } from './view-plan.js';

export interface PatientIdColumn {
  readonly relation: number;
  readonly attnum: number;
}

export async function patientIdColumns(
  admin: pg.Pool,
  role: string,
  access: readonly TableAccess[],
): Promise<PatientIdColumn[]> {
  const views: string[] = [];
  const columns: string[] = [];
  for (const a of access) {
    const column = patientIdColumnOf(a);
    if (column === undefined) continue;
    views.push(qualifiedTable(a.table).name);
    columns.push(column);
  }
  if (views.length === 0) return [];
  // The role's own views: those of phigate's view schemas it may read (one schema per grant shape).
  const found = await admin.query<{ relation: string; attnum: number }>(
    `select c.oid::text as relation, a.attnum
       from unnest($2::text[], $3::text[]) as w(view_name, column_name)
       join pg_class c on c.relname = w.view_name and c.relkind = 'v'
       join pg_namespace n on n.oid = c.relnamespace and n.nspname like $4
       join pg_attribute a on a.attrelid = c.oid and a.attname = w.column_name
      where has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE')`,
    [role, views, columns, `${VIEW_SCHEMA_PREFIX.replaceAll('_', '\\_')}%`],
  );
  return found.rows.map((r) => ({ relation: Number(r.relation), attnum: r.attnum }));
}
