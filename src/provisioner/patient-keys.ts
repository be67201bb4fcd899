/**
 * The patient key behind a value that leads to a patient (`encounters.patient_id` = 24 → `patients.mrn`
 * 'MRN-DEMO-0024'), looked up in the protected database with the provisioning account: the base tables, following
 * the policy's foreign keys — what the grant's own views would show is beside the point, the role already received
 * the value. One query per column for all the values of a record, and the answers kept per grant (a value names the
 * same patient for the grant's whole life, short as it is).
 */
import type pg from 'pg';
import type { PatientIdColumn } from './patient-columns.js';
import { qualifiedTable, quoteIdent } from './sql-names.js';

/** Values remembered per grant; beyond this the cache starts again (it is a cache, not a record). */
const CACHED_VALUES = 50_000;
/** A look-up slower than this fails, and the statement is accounted as unattributed rather than waiting. */
const LOOKUP_TIMEOUT_MS = 5_000;

export interface PatientKeys {
  /** The patient keys of each value of `column` found (values not found are absent); the value itself for a key. */
  keysOf(column: PatientIdColumn, values: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>>;
}

/** The look-up of one column's values: its anchor's rows, joined along its foreign keys to the patient key. */
export function lookupSql(column: PatientIdColumn): string {
  const anchor = column.anchor!;
  const joins = anchor.path.hops.map(
    (hop, i) =>
      `join ${qualifiedTable(hop.table).sql} t${i + 1} on t${i + 1}.${quoteIdent(hop.referenced)} = t${i}.${quoteIdent(hop.column)}`,
  );
  const last = `t${anchor.path.hops.length}`;
  return [
    `select t0.${quoteIdent(anchor.column)}::text as value, ${last}.${quoteIdent(anchor.path.idColumn)}::text as key`,
    `from ${qualifiedTable(anchor.table).sql} t0`,
    ...joins,
    // The type comes from the catalog (format_type), not from anyone's input; the cast lets an index be used.
    `where t0.${quoteIdent(anchor.column)} = any($1::text[]::${column.type}[])`,
  ].join(' ');
}

export function createPatientKeys(admin: () => Pick<pg.Pool, 'query'>): PatientKeys {
  const cache = new Map<string, Map<string, readonly string[]>>();
  let cached = 0;
  return {
    async keysOf(column, values) {
      if (column.anchor === undefined) return new Map(values.map((v) => [v, [v]]));
      const name = `${column.table}.${column.column}`;
      let known: Map<string, readonly string[]> = cache.get(name) ?? new Map<string, readonly string[]>();
      cache.set(name, known);
      const before = known;
      const missing = values.filter((v) => !before.has(v));
      if (missing.length > 0) {
        const found = await admin().query<{ value: string; key: string }>({
          text: lookupSql(column),
          values: [missing],
          query_timeout: LOOKUP_TIMEOUT_MS,
        } as pg.QueryConfig);
        const keys = new Map<string, string[]>();
        for (const r of found.rows) keys.set(r.value, [...(keys.get(r.value) ?? []), r.key]);
        if (cached + keys.size > CACHED_VALUES) {
          cache.clear();
          cached = 0;
          cache.set(name, (known = new Map<string, readonly string[]>()));
        }
        for (const [value, k] of keys) known.set(value, k);
        cached += keys.size;
      }
      const out = new Map<string, readonly string[]>();
      for (const v of values) {
        const k = known.get(v);
        if (k !== undefined) out.set(v, k);
      }
      return out;
    },
  };
}
