/**
 * ATTACKS.md "SQL-level bypass of minimum necessary" (items 29–35) as data, for one grant of the example policy's
 * `analyst-encounters` role scoped to two synthetic patients (MRN-DEMO-0001 and -0002, ids 1 and 2). The same list
 * runs through the gateway and with `--direct` credentials; what may differ is who refuses (the gateway's guard or the
 * database), never what comes back.
 *
 * The oracle is the same for every attempt: no value the grant must not see — any name, SSN, MRN, full birth date,
 * full ZIP code or exact clinical date of the synthetic clinic — appears anywhere in what comes back, rows or error
 * message. Attempts that return rows also check the patient scope (counts over the two patients' 6 encounters).
 */
import assert from 'node:assert/strict';
import { runPsql, type PsqlEndpoint } from '../../src/demo/psql.js';
import type pg from 'pg';

export const SCOPED_PATIENTS = ['MRN-DEMO-0001', 'MRN-DEMO-0002'];

export interface Outcome {
  readonly ok: boolean;
  /** Rows (JSON) or psql's output, or the error message. */
  readonly text: string;
  /** The first column of the first row, when there is one. */
  readonly first?: unknown;
}

export interface Attempt {
  readonly item: number;
  readonly sql: string;
  /** COPY needs psql (the pg client does not read COPY data). */
  readonly psql?: boolean;
  /** Must be refused (`error`), must succeed (`rows`), or its first row's first column must equal `value`. */
  readonly expect: 'error' | 'rows' | { readonly value: string | number };
}

export const BYPASS_ATTEMPTS: readonly Attempt[] = [
  { item: 29, sql: 'copy (select * from patients) to stdout', psql: true, expect: 'rows' },
  { item: 29, sql: 'copy patients to stdout', psql: true, expect: 'error' },
  { item: 29, sql: 'copy public.patients to stdout', psql: true, expect: 'error' },
  { item: 29, sql: "copy patients to program 'cat'", psql: true, expect: 'error' },
  { item: 29, sql: "copy (select * from patients) to '/tmp/phigate-bypass'", psql: true, expect: 'error' },
  { item: 30, sql: "select pg_read_file('/etc/hostname')", expect: 'error' },
  { item: 30, sql: "select pg_ls_dir('.')", expect: 'error' },
  { item: 30, sql: "select lo_import('/etc/hostname')", expect: 'error' },
  { item: 30, sql: "select * from dblink('dbname=postgres', 'select 1') as t(x int)", expect: 'error' },
  { item: 30, sql: 'create extension dblink', expect: 'error' },
  { item: 30, sql: 'create foreign data wrapper w', expect: 'error' },
  {
    item: 30,
    sql: "create function peek() returns setof text language sql as 'select ssn from public.patients'",
    expect: 'error',
  },
  { item: 30, sql: 'do $$ begin perform count(*) from public.patients; end $$', expect: 'error' },
  { item: 31, sql: 'set role postgres', expect: 'error' },
  { item: 31, sql: 'set session authorization postgres', expect: 'error' },
  { item: 31, sql: 'set search_path = public; select name from patients', expect: 'error' },
  {
    item: 31,
    sql: "select set_config('search_path', 'public', false); select name from patients",
    expect: 'error',
  },
  { item: 31, sql: 'select name from public.patients', expect: 'error' },
  { item: 31, sql: 'create temp table patients as select * from public.patients', expect: 'error' },
  { item: 31, sql: 'select ssn from patients', expect: 'error' },
  { item: 32, sql: 'select row_to_json(t) from patients t', expect: 'rows' },
  { item: 32, sql: 'select to_jsonb(t) from patients t', expect: 'rows' },
  { item: 32, sql: 'select t::text from patients t', expect: 'rows' },
  { item: 32, sql: 'select row(t.*) from patients t', expect: 'rows' },
  { item: 32, sql: 'select t from patients t', expect: 'rows' },
  { item: 32, sql: 'select array_agg(t)::text from patients t', expect: 'rows' },
  { item: 32, sql: "select format('%s', t) from patients t", expect: 'rows' },
  { item: 32, sql: 'select count(*)::int from (select t from patients t) x', expect: { value: 2 } },
  { item: 33, sql: 'select name::int from patients', expect: 'error' },
  { item: 33, sql: 'select birth_date::text::int from patients', expect: 'error' },
  // Out-of-scope patients' rows never reach the user's condition: it would divide by zero on patient 3.
  {
    item: 33,
    sql: 'select count(*)::int from encounters where 1 / (patient_id - 3) > 0',
    expect: { value: 0 },
  },
  {
    item: 33,
    sql: "select count(*)::int from patients where 1 / (case when mrn like 'MRN%' then 0 else 1 end) = 1",
    expect: { value: 2 },
  },
  { item: 33, sql: "select count(*)::int from patients where name like 'Ben%'", expect: { value: 0 } },
  {
    item: 34,
    sql: "select count(*)::int from pg_stats where tablename in ('patients', 'encounters')",
    expect: { value: 0 },
  },
  { item: 34, sql: 'select * from pg_statistic', expect: 'error' },
  { item: 34, sql: 'explain analyze select * from patients', expect: 'rows' },
  { item: 34, sql: 'explain (verbose, costs off) select * from observations', expect: 'rows' },
  {
    item: 35,
    sql: 'select count(*)::int from encounters e join observations o on o.encounter_id = e.id',
    expect: { value: 6 },
  },
  {
    item: 35,
    sql: 'with x as (select * from encounters) select count(distinct patient_id)::int from x',
    expect: { value: 2 },
  },
  { item: 35, sql: 'select (count(*) over ())::int from observations limit 1', expect: { value: 6 } },
  {
    item: 35,
    sql: 'select count(*)::int from observations where encounter_id not in (select id from encounters)',
    expect: { value: 0 },
  },
  {
    item: 35,
    sql: "select (select count(*) from patients) || '/' || (select count(*) from encounters) || '/' || (select count(*) from observations)",
    expect: { value: '2/6/6' },
  },
  {
    item: 35,
    sql: 'select count(*)::int from patients p, lateral (select 1 from encounters e where e.patient_id <> p.id) x',
    expect: { value: 6 },
  },
  {
    item: 35,
    sql: "select string_agg(distinct patient_id::text, ',' order by patient_id::text) from encounters",
    expect: { value: '1,2' },
  },
];

/** Every value of the synthetic clinic the scoped analyst grant must not see, read as the superuser. */
export async function forbiddenValues(query: (sql: string) => Promise<{ v: string }[]>): Promise<string[]> {
  const rows = await query(`
    select name as v from patients union select ssn from patients union select mrn from patients
    union select birth_date::text from patients union select zip from patients
    union select admitted_at::date::text from encounters union select discharged_at::date::text from encounters
    union select observed_at::date::text from observations`);
  return rows.map((r) => r.v);
}

export function pgRunner(client: pg.Client): (sql: string) => Promise<Outcome> {
  return async (sql) => {
    try {
      const result = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(result) ? result[result.length - 1]! : result;
      const firstRow = last.rows[0] as Record<string, unknown> | undefined;
      return {
        ok: true,
        text: JSON.stringify(Array.isArray(result) ? result.map((r): unknown[] => r.rows) : last.rows),
        first: firstRow === undefined ? undefined : Object.values(firstRow)[0],
      };
    } catch (err) {
      return { ok: false, text: String((err as Error).message) };
    }
  };
}

export function psqlRunner(endpoint: PsqlEndpoint): (sql: string) => Promise<Outcome> {
  return async (sql) => {
    const r = await runPsql(endpoint, sql);
    return { ok: r.code === 0, text: r.code === 0 ? r.stdout : r.stderr };
  };
}

/** Runs every attempt and checks the oracle; returns the outcomes for further checks. */
export async function tryEveryBypass(o: {
  readonly run: (sql: string) => Promise<Outcome>;
  readonly psql: ((sql: string) => Promise<Outcome>) | undefined;
  readonly forbidden: readonly string[];
}): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  for (const attempt of BYPASS_ATTEMPTS) {
    if (attempt.psql === true && o.psql === undefined) continue;
    const outcome = await (attempt.psql === true ? o.psql! : o.run)(attempt.sql);
    outcomes.set(attempt.sql, outcome);
    const label = `ATTACKS ${attempt.item}: ${attempt.sql} → ${outcome.text.slice(0, 300)}`;
    for (const value of o.forbidden) assert.ok(!outcome.text.includes(value), `${label}\n  shows ${value}`);
    if (attempt.expect === 'error') assert.equal(outcome.ok, false, label);
    else assert.equal(outcome.ok, true, label);
    if (typeof attempt.expect === 'object') assert.equal(outcome.first, attempt.expect.value, label);
  }
  return outcomes;
}
