/**
 * Whether a statement the gateway relayed disclosed PHI, and what of its patients its result tells
 * (audit/disclosures.ts has the definition): rows returned to the client, from a relation the policy declares as
 * PHI — decided from the relations the guard's parse found in the statement's text, so nothing is parsed twice. A
 * statement that read only the catalog or no table (`\d`, `select 1`, `SHOW`, `now()`), that returned no row, or
 * that failed before any row, discloses nothing. Pure, but for the look-up it is given.
 */
import type { UnattributedReason } from '../audit/disclosures.js';
import type { TableAccess } from '../policy/types.js';
import type { StatementToAudit } from './postgres/relay.js';
import type { PatientColumn, StatementResult } from './postgres/statement-tracker.js';

/** The PHI tables a grant's role reads, by the name its statements use (its views bear the tables' names). */
export interface RolePhi {
  readonly byRelation: ReadonlyMap<string, string>;
  readonly tables: readonly string[];
}

export function rolePhi(access: readonly TableAccess[]): RolePhi {
  const tables = access.filter((a) => a.phi).map((a) => a.table);
  const byRelation = new Map(tables.map((t) => [t.slice(t.indexOf('.') + 1).toLowerCase(), t]));
  return { byRelation, tables };
}

export interface Disclosure {
  readonly tables: readonly string[];
  /** Values of patient columns found in the rows (keys, or values leading to them: still to be looked up). */
  readonly refs: ReadonlyMap<PatientColumn, readonly string[]> | undefined;
  readonly unattributed: UnattributedReason | undefined;
}

export function disclosureOf(
  statement: StatementToAudit,
  result: StatementResult,
  phi: RolePhi,
): Disclosure | undefined {
  if (result.returned === 0) return undefined;
  const named = statement.relations;
  const tables =
    named === undefined ? phi.tables : [...new Set(named.flatMap((r) => phi.byRelation.get(r) ?? []))];
  if (tables.length === 0) return undefined;
  const keyed = new Set(result.keyedTables ?? []);
  const unattributed: UnattributedReason | undefined =
    result.patientsUnread ??
    (named === undefined ? 'unknown-relations' : tables.every((t) => keyed.has(t)) ? undefined : 'no-key');
  return { tables, refs: result.patientRefs, unattributed };
}

/** A statement's disclosure with the patient keys its result named (looked up where the result held a reference). */
export interface ResolvedDisclosure {
  readonly tables: readonly string[];
  readonly patients: readonly string[];
  readonly unattributed: UnattributedReason | undefined;
}

/** The patient keys behind values of a patient column (provisioner/patient-keys.ts), values not found absent. */
export type KeysOf = (
  column: PatientColumn,
  values: readonly string[],
) => Promise<ReadonlyMap<string, readonly string[]>>;

/**
 * The disclosure with the patients' keys: values that lead to a patient are looked up. A value that names no
 * patient, or a look-up that fails, leaves the statement unattributed rather than short of a patient.
 */
export async function resolveDisclosure(d: Disclosure, keysOf: KeysOf): Promise<ResolvedDisclosure> {
  const patients = new Set<string>();
  let unattributed = d.unattributed;
  for (const [column, values] of d.refs ?? []) {
    try {
      const keys = await keysOf(column, values);
      for (const v of values) {
        const k = keys.get(v);
        if (k === undefined || k.length === 0) unattributed ??= 'lookup-failed';
        for (const key of k ?? []) patients.add(key);
      }
    } catch {
      unattributed ??= 'lookup-failed';
    }
  }
  return { tables: d.tables, patients: [...patients], unattributed };
}
