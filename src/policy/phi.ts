/**
 * A resource's description of its PHI, compiled: which tables hold it, how each table's rows lead to a patient (a
 * column, or foreign keys towards one), and the Safe Harbor kind of labelled columns. And the mask each column a role
 * lists ends up with: the role's choice, else the resource's, else its kind's default, else (not PHI) `clear`.
 */
import type { PolicyFile } from './schema.js';
import { SAFE_HARBOR, type Mask } from './safe-harbor.js';
import type { PatientPath, PhiTable, TableAccess } from './types.js';

export const TABLE_NAME = /^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$/i;
const COLUMN_REFERENCE = /^([a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*)\.([a-z_][a-z0-9_$]*)$/i;
/** Longer chains of foreign keys are almost certainly a mistake, and each hop is a sub-query on every read. */
const MAX_HOPS = 4;

type Report = (path: readonly (string | number)[], message: string) => void;
type PhiFile = PolicyFile['resources'][string]['phi'];

export function compilePhi(resource: string, phi: PhiFile, report: Report): Map<string, PhiTable> {
  const at = (table: string, ...rest: string[]): string[] => ['resources', resource, 'phi', table, ...rest];
  const paths = new Map<string, PatientPath | undefined>();

  const pathOf = (table: string, seen: readonly string[]): PatientPath | undefined => {
    if (paths.has(table)) return paths.get(table);
    const key = phi[table]?.patientKey;
    let path: PatientPath | undefined;
    if (typeof key === 'string') {
      path = { hops: [], idColumn: key };
    } else if (key !== undefined) {
      const match = COLUMN_REFERENCE.exec(key.references);
      const target = match?.[1];
      if (match === null || target === undefined) {
        report(at(table, 'patientKey', 'references'), 'expected schema.table.column');
      } else if (seen.includes(target)) {
        report(
          at(table, 'patientKey', 'references'),
          `patient keys go round in a circle: ${[...seen, target].join(' → ')}`,
        );
      } else if (phi[target]?.patientKey === undefined) {
        report(
          at(table, 'patientKey', 'references'),
          `${target} must be a PHI table of this resource with its own patientKey`,
        );
      } else {
        const next = pathOf(target, [...seen, target]);
        if (next !== undefined) {
          path = {
            hops: [{ column: key.column, table: target, referenced: match[2]! }, ...next.hops],
            idColumn: next.idColumn,
          };
          if (path.hops.length > MAX_HOPS) {
            report(at(table, 'patientKey'), `the way to the patient is longer than ${MAX_HOPS} foreign keys`);
            path = undefined;
          }
        }
      }
    }
    paths.set(table, path);
    return path;
  };

  const tables = new Map<string, PhiTable>();
  for (const [table, t] of Object.entries(phi)) {
    if (!TABLE_NAME.test(table))
      report(at(table), `table ${JSON.stringify(table)} must be written schema.table`);
    const columns = new Map(
      Object.entries(t.columns).map(([column, label]) => {
        const kind = typeof label === 'string' ? label : label.kind;
        const mask = typeof label === 'string' ? SAFE_HARBOR[kind].defaultMask : label.mask;
        return [column, Object.freeze({ kind, mask })] as const;
      }),
    );
    tables.set(table, Object.freeze({ table, patientPath: pathOf(table, [table]), columns }));
  }
  return tables;
}

/** The mask of every column a role lists on one table. */
export function resolveMasks(
  columns: readonly string[],
  roleMasks: Readonly<Record<string, Mask>>,
  phi: PhiTable | undefined,
  report: (column: string, message: string) => void,
): Record<string, Mask> {
  for (const column of Object.keys(roleMasks)) {
    if (!columns.includes(column)) report(column, `${column} is masked but not among the role's columns`);
  }
  return Object.fromEntries(
    columns.map((column) => [column, roleMasks[column] ?? phi?.columns.get(column)?.mask ?? 'clear']),
  );
}

/**
 * The column of the table itself whose values are patient ids — the id column, or a foreign key whose chain of
 * references ends at it — when the role sees it unmasked; undefined otherwise. A statement returning this column
 * discloses those patients, and the gateway can tell which.
 */
export function patientIdColumnOf(access: TableAccess): string | undefined {
  const path = access.patientPath;
  if (path === undefined) return undefined;
  let column = path.idColumn;
  for (let i = path.hops.length - 1; i >= 0; i--) {
    const hop = path.hops[i]!;
    if (hop.referenced !== column) return undefined;
    column = hop.column;
  }
  return access.columns.includes(column) && (access.masks[column] ?? 'clear') === 'clear'
    ? column
    : undefined;
}

/**
 * Where a value of a patient column leads: the rows of `table` whose `column` holds it, then `path` (that table's
 * foreign keys) to the patient key. Undefined in `PatientColumnRule.anchor`: the value is the patient key itself.
 */
export interface PatientAnchor {
  readonly table: string;
  readonly column: string;
  readonly path: PatientPath;
}

/** A column of a role's table whose values name patients, and how a value becomes the patient's key. */
export interface PatientColumnRule {
  readonly column: string;
  readonly anchor: PatientAnchor | undefined;
}

/**
 * Every column of the table that a role sees unmasked and that some `patientKey` path of the resource names: the
 * patient key itself, the table's own foreign key on its way to it (`encounters.patient_id`), and the columns other
 * tables' keys reference (`patients.id`, `encounters.id`). A statement whose result carries one of them names the
 * patients its rows came from; a value that is not the key is looked up (provisioner/patient-keys.ts). Pure.
 */
export function patientColumnsOf(
  access: TableAccess,
  phi: ReadonlyMap<string, PhiTable>,
): PatientColumnRule[] {
  const rules = new Map<string, PatientAnchor | undefined>();
  const add = (column: string, anchor: PatientAnchor): void => {
    if (rules.has(column)) return;
    const identity = anchor.path.hops.length === 0 && anchor.column === anchor.path.idColumn;
    rules.set(column, identity ? undefined : anchor);
  };
  const own = access.patientPath ?? phi.get(access.table)?.patientPath;
  if (own !== undefined) {
    const first = own.hops[0];
    if (first === undefined) add(own.idColumn, { table: access.table, column: own.idColumn, path: own });
    else
      add(first.column, {
        table: first.table,
        column: first.referenced,
        path: { hops: own.hops.slice(1), idColumn: own.idColumn },
      });
  }
  for (const other of phi.values()) {
    const hops = other.patientPath?.hops ?? [];
    hops.forEach((hop, i) => {
      if (hop.table !== access.table) return;
      add(hop.referenced, {
        table: access.table,
        column: hop.referenced,
        path: { hops: hops.slice(i + 1), idColumn: other.patientPath!.idColumn },
      });
    });
  }
  return [...rules]
    .filter(([column]) => access.columns.includes(column) && (access.masks[column] ?? 'clear') === 'clear')
    .map(([column, anchor]) => ({ column, anchor }));
}
