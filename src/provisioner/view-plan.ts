/**
 * The views a grant's role reads through: one security-barrier view per table of the role's access, in a schema of
 * phigate's, named like the table so that queries keep their usual names. Each view lists only the role's columns,
 * masked ones as their masking expression, and — for a patient-scoped grant — keeps only rows whose patient is in
 * the grant's patient set, which it reads from phigate's table keyed by `current_user` (the grant's own role).
 *
 * Views with the same definition serve every grant that needs them: the schema's name is a hash of the definitions,
 * so provisioning a grant usually creates no view at all, only privileges. Pure: it computes statements.
 */
import { createHash } from 'node:crypto';
import type { PatientPath, TableAccess } from '../policy/types.js';
import { isTextual, maskedExpression } from './mask-sql.js';
import { qualifiedTable, quoteIdent } from './sql-names.js';

export const VIEW_SCHEMA_PREFIX = 'phigate_v_';
/** Bumped whenever the shape of generated views changes, so that old schemas are not reused. */
const VIEW_FORMAT = 'phigate/views/v1';

/** phigate's own objects in a protected database (see docs/provisioner.md). */
export const META_SCHEMA = 'phigate';
export const GRANT_PATIENTS = `${quoteIdent(META_SCHEMA)}.grant_patients`;
export const PSEUDONYM_KEY = `${quoteIdent(META_SCHEMA)}.pseudonym_key`;

/** Column types as the catalog spells them (`format_type`), by schema-qualified table and column. */
export type ColumnTypes = ReadonlyMap<string, ReadonlyMap<string, string>>;

export interface ViewSet {
  readonly schema: string;
  /** Creates the schema and its views (run only when the schema does not exist yet). */
  readonly statements: readonly string[];
  readonly views: readonly { readonly sql: string; readonly operations: TableAccess['operations'] }[];
}

export class ViewPlanError extends Error {}

/** Every table whose columns a view set refers to: the tables themselves and those on their way to a patient. */
export function tablesOf(access: readonly TableAccess[]): string[] {
  const tables = new Set<string>();
  for (const a of access) {
    tables.add(a.table);
    for (const hop of a.patientPath?.hops ?? []) tables.add(hop.table);
  }
  return [...tables].sort();
}

/** The table holding the patient id for rows of `table`: itself, or the last table on its way to the patient. */
export function patientIdTable(table: string, path: PatientPath): string {
  return path.hops.at(-1)?.table ?? table;
}

function typeOf(types: ColumnTypes, table: string, column: string): string {
  const type = types.get(table)?.get(column);
  if (type === undefined) throw new ViewPlanError(`column ${table}.${column} does not exist`);
  return type;
}

/**
 * `t.col IN (…)` chains from the table to the patient id: each hop a sub-query on the next table, the last one
 * comparing the id column with the grant's patient set (cast to the column's type, so its index can serve).
 */
function patientPredicate(table: string, path: PatientPath, types: ColumnTypes): string {
  const hops = path.hops;
  const idType = typeOf(types, patientIdTable(table, path), path.idColumn);
  const patientId = isTextual(idType) ? 'g.patient_id' : `g.patient_id::${idType}`;
  let inner =
    `${quoteIdent(path.idColumn)} in (select ${patientId} from ${GRANT_PATIENTS} g ` +
    `where g.role_name = current_user)`;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    const from = i === 0 ? table : hops[i - 1]!.table;
    typeOf(types, from, hop.column);
    typeOf(types, hop.table, hop.referenced);
    const alias = `h${i + 1}`;
    inner =
      `${quoteIdent(hop.column)} in (select ${alias}.${quoteIdent(hop.referenced)} ` +
      `from ${qualifiedTable(hop.table).sql} ${alias} where ${alias}.${inner})`;
  }
  return `t.${inner}`;
}

function viewBody(
  access: TableAccess,
  scoped: boolean,
  types: ColumnTypes,
): { select: string; checkOption: boolean } {
  const columns = access.columns.map((column) => {
    const ref = `t.${quoteIdent(column)}`;
    const expression = maskedExpression(
      ref,
      typeOf(types, access.table, column),
      access.masks[column] ?? 'clear',
      {
        sql: PSEUDONYM_KEY,
      },
    );
    return expression === ref ? ref : `${expression} as ${quoteIdent(column)}`;
  });
  const select = `select ${columns.join(', ')} from ${qualifiedTable(access.table).sql} t`;
  if (!scoped || access.patientPath === undefined) return { select, checkOption: false };
  return {
    select: `${select} where ${patientPredicate(access.table, access.patientPath, types)}`,
    // Rows written through the view must stay within the grant's patients.
    checkOption: access.operations.some((op) => op === 'INSERT' || op === 'UPDATE'),
  };
}

export function planViews(input: {
  readonly access: readonly TableAccess[];
  /** Whether the grant names patients (its views then filter by them). */
  readonly scoped: boolean;
  readonly types: ColumnTypes;
}): ViewSet {
  const bodies = input.access.map((a) => ({
    name: qualifiedTable(a.table).name,
    body: viewBody(a, input.scoped, input.types),
    operations: a.operations,
  }));
  const digest = createHash('sha256').update(VIEW_FORMAT);
  for (const b of bodies) {
    digest.update(`\u0000${b.name}\u0000${b.body.select}\u0000${String(b.body.checkOption)}`);
  }
  const schema = `${VIEW_SCHEMA_PREFIX}${digest.digest('hex').slice(0, 24)}`;
  const s = quoteIdent(schema);
  const views = bodies.map((b) => ({ sql: `${s}.${quoteIdent(b.name)}`, operations: b.operations }));
  return {
    schema,
    statements: [
      `create schema ${s}`,
      `comment on schema ${s} is 'phigate: masked views for grant roles (managed by phigate; do not edit)'`,
      ...bodies.map(
        (b, i) =>
          `create view ${views[i]!.sql} with (security_barrier${b.body.checkOption ? ', check_option = local' : ''}) ` +
          `as ${b.body.select}`,
      ),
    ],
    views,
  };
}
