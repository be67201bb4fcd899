/**
 * The accounting of disclosures measured against ground truth (issue 13). A scripted workload — simple and extended
 * protocol, COPY, a portal fetched a row at a time, an Execute never described, a Parse never executed, catalog
 * queries, SET/SHOW, errors, empty results, aggregates, derived keys, set operations, sub-queries, joins through each
 * foreign-key hop — runs through the gateway under four grants: an analyst's patient-scoped grant (MRN masked), a
 * support grant without patients, a care-team grant (patients from the care relation) and a break-glass grant
 * without patients. Each statement's disclosed patients are computed by the test itself from the clinic's rows, read
 * over a superuser connection (not from anything phigate recorded), and from what the client received (no row: no
 * disclosure). Then each of the 40 patients' `phigate audit disclosures` is compared with that truth over
 * (statement, patient) pairs: recall must be 1 (every disclosure listed, or listed as unattributed for that patient),
 * precision of the attributed entries at least 0.95, and no statement listed twice for a patient.
 */
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { fingerprintSql } from '../../src/audit/sql-fingerprint.js';
import * as fe from '../../src/gateway/postgres/frontend-encode.js';
import { RESOURCE, startGatewayFixture, type GatewayFixture } from '../support/gateway.js';
import { session as wireSession, untilReady } from '../support/wire.js';

const POLICY = `version: 1
auditors: { groups: [privacy-office] }
resources:
  ${RESOURCE}:
    kind: postgres
    connection: { host: 127.0.0.1, port: 5432, database: unused }
    phi:
      public.patients:
        patientKey: mrn
        columns: { mrn: mrn, name: names, birth_date: dates }
      public.encounters:
        patientKey: { column: patient_id, references: public.patients.id }
      public.observations:
        patientKey: { column: encounter_id, references: public.encounters.id }
      public.care_team:
        patientKey: { column: patient_id, references: public.patients.id }
approvalRules:
  auto:
    autoApprove: [{ groups: [analysts, physicians, support] }]
    approvers: { groups: [clinical-leads] }
roles:
  analyst:
    resource: ${RESOURCE}
    eligibleGroups: [analysts]
    access:
      public.patients: { columns: [id, mrn, name, birth_date], masks: { mrn: pseudonym } }
      public.encounters: { columns: [id, patient_id, department] }
      public.observations: { columns: [id, encounter_id, code, value] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    patientScope: required
    approval: auto
  support:
    resource: ${RESOURCE}
    eligibleGroups: [support]
    access:
      public.patients:
        { columns: [id, mrn, name, birth_date], masks: { mrn: clear, name: clear, birth_date: clear } }
      public.encounters: { columns: [id, patient_id, department] }
      public.observations: { columns: [id, encounter_id, code, value] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
  attending:
    resource: ${RESOURCE}
    eligibleGroups: [physicians]
    access:
      public.patients:
        { columns: [id, mrn, name, birth_date], masks: { mrn: clear, name: clear, birth_date: clear } }
      public.encounters: { columns: [id, patient_id, department] }
      public.observations: { columns: [id, encounter_id, code, value] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    patientScope: optional
    careRelation: { table: public.care_team, requesterColumn: clinician, validUntil: ends_on }
    approval: auto
  breakglass:
    resource: ${RESOURCE}
    eligibleGroups: [oncall]
    access:
      public.patients:
        { columns: [id, mrn, name, birth_date], masks: { mrn: clear, name: clear, birth_date: clear } }
      public.encounters: { columns: [id, patient_id, department] }
      public.observations: { columns: [id, encounter_id, code, value] }
    duration: { default: 10m, max: 30m }
    purposes: [ETREAT]
    emergency: true
`;

const mrnOf = (id: number): string => `MRN-DEMO-${String(id).padStart(4, '0')}`;

/** The clinic's rows as a superuser reads them: what the truth is computed from. */
interface Clinic {
  readonly patients: readonly number[];
  readonly encounterPatient: ReadonlyMap<number, number>;
}

/** One scripted statement: how it is sent, and the patients whose rows its rows derive from, within reach. */
interface Item {
  readonly sql: string;
  readonly how:
    | { readonly kind: 'simple' }
    | { readonly kind: 'extended'; readonly values: readonly unknown[] }
    | { readonly kind: 'wire'; readonly messages: (sql: string) => Buffer[]; readonly completes: boolean };
  /** Patient ids its rows are derived from, given which patients the grant reaches (null: every one). */
  readonly truth: (reach: (id: number) => boolean, clinic: Clinic) => number[];
}

const only =
  (...ids: number[]) =>
  (reach: (id: number) => boolean): number[] =>
    ids.filter(reach);

function perPatient(p: number, q: number): Item[] {
  const simple = { kind: 'simple' } as const;
  const wire = (messages: (sql: string) => Buffer[], completes = true) =>
    ({ kind: 'wire', messages, completes }) as const;
  return [
    { sql: `select mrn, name from patients where id = ${p}`, how: simple, truth: only(p) },
    {
      sql: 'select name from patients where id = $1',
      how: { kind: 'extended', values: [p] },
      truth: only(p),
    },
    { sql: `select name, birth_date from patients where id = ${p}`, how: simple, truth: only(p) },
    { sql: `select * from encounters where patient_id = ${p}`, how: simple, truth: only(p) },
    {
      sql: 'select code, value from observations where encounter_id = $1',
      how: { kind: 'extended', values: [p * 10] },
      truth: only(p),
    },
    { sql: `select * from observations where encounter_id = ${p * 10 + 1}`, how: simple, truth: only(p) },
    { sql: `select upper(mrn) from patients where id = ${p}`, how: simple, truth: only(p) },
    { sql: `select mrn::varchar from patients where id = ${p}`, how: simple, truth: only(p) },
    { sql: `select mrn collate "C" from patients where id = ${p}`, how: simple, truth: only(p) },
    { sql: `select row_to_json(t) from patients t where t.id = ${p}`, how: simple, truth: only(p) },
    { sql: `select (select mrn from patients where id = ${p}) as m`, how: simple, truth: only(p) },
    {
      sql: `select t.id, e.id from patients t join encounters e on e.patient_id = t.id where t.id = ${p}`,
      how: simple,
      truth: only(p),
    },
    {
      sql: `select e.department, t.name from encounters e join patients t on t.id = e.patient_id where t.id = ${p}`,
      how: simple,
      truth: only(p),
    },
    {
      sql: `select mrn from patients where id = ${p} union all select mrn from patients where id = ${q}`,
      how: simple,
      truth: only(p, q),
    },
    { sql: `select array_agg(mrn) from patients where id in (${p}, ${q})`, how: simple, truth: only(p, q) },
    { sql: `select 1/0 from patients where id = ${p}`, how: simple, truth: () => [] },
    {
      sql: `copy (select id, name from patients where id = ${p}) to stdout`,
      how: wire((sql) => [fe.query(sql)]),
      truth: only(p),
    },
    {
      // A portal fetched a row at a time: one statement execution, several Executes.
      sql: 'select id from encounters where patient_id = $1',
      how: wire((sql) => [
        fe.parse('', sql),
        fe.bind('', '', [Buffer.from(String(p))]),
        fe.describe('P', ''),
        fe.execute('', 1),
        fe.execute('', 1),
        fe.execute('', 1),
        fe.execute('', 1),
        fe.sync(),
      ]),
      truth: only(p),
    },
    {
      // Executed without any Describe: its rows cannot be read.
      sql: 'select mrn from patients where id = $1',
      how: wire((sql) => [
        fe.parse('', sql),
        fe.bind('', '', [Buffer.from(String(p))]),
        fe.execute(''),
        fe.sync(),
      ]),
      truth: only(p),
    },
    {
      // Parsed, never executed.
      sql: `select mrn from patients where id = ${p}`,
      how: wire((sql) => [fe.parse('never', sql), fe.sync()], false),
      truth: () => [],
    },
  ];
}

const GLOBAL: Item[] = [
  {
    sql: 'select count(*) from encounters',
    how: { kind: 'simple' },
    truth: (reach, c) => c.patients.filter(reach),
  },
  {
    sql: 'select patient_id, count(*) from encounters group by 1 order by 1 limit 3',
    how: { kind: 'simple' },
    truth: (reach, c) => c.patients.filter(reach).slice(0, 3),
  },
  {
    sql: "select n.nspname, c.relname from pg_catalog.pg_class c left join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.relname operator(pg_catalog.~) '^(patients)$' and pg_catalog.pg_table_is_visible(c.oid)",
    how: { kind: 'simple' },
    truth: () => [],
  },
  { sql: 'select 1', how: { kind: 'simple' }, truth: () => [] },
  { sql: 'show work_mem', how: { kind: 'simple' }, truth: () => [] },
  { sql: "set work_mem = '8MB'", how: { kind: 'simple' }, truth: () => [] },
  { sql: 'select now()', how: { kind: 'simple' }, truth: () => [] },
  { sql: 'select * from patients where id = 9999', how: { kind: 'simple' }, truth: () => [] },
  {
    sql: 'select mrn from patients where id = $1',
    how: { kind: 'extended', values: [9999] },
    truth: () => [],
  },
  {
    sql: 'select e.id, o.value from encounters e join observations o on o.encounter_id = e.id where e.id = $1',
    how: { kind: 'extended', values: [20] },
    truth: (reach) => [2].filter(reach),
  },
];

/** Rows a raw answer carried to the client: DataRows and COPY data. */
function rowsIn(answer: Buffer): number {
  let n = 0;
  for (let i = 0; i + 5 <= answer.length;) {
    const type = answer[i]!;
    if (type === 0x44 || type === 0x64) n += 1;
    i += 1 + answer.readInt32BE(i + 1);
  }
  return n;
}

interface Grant {
  readonly kind: string;
  readonly user: string;
  readonly id: string;
  /** Patient ids the grant reaches; null: every patient. */
  readonly scope: readonly number[] | null;
  readonly items: Item[];
}

interface Ran {
  readonly item: Item;
  readonly grant: Grant;
  readonly received: number;
}

describe('accounting of disclosures against ground truth', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture({ policy: POLICY });
  });
  after(async () => {
    await f.stop();
  });

  it('lists every disclosure (recall 1), attributes precisely (precision ≥ 0.95), never twice', async () => {
    const clinic: Clinic = {
      patients: (await f.protectedDb.query<{ id: number }>('select id from patients order by id')).map(
        (r) => r.id,
      ),
      encounterPatient: new Map(
        (
          await f.protectedDb.query<{ id: number; patient_id: number }>(
            'select id, patient_id from encounters',
          )
        ).map((r) => [r.id, r.patient_id]),
      ),
    };
    const workload = (patients: number[]): Item[] => [
      ...patients.flatMap((p) => perPatient(p, p === 40 ? 1 : p + 1)),
      ...GLOBAL,
    ];
    const grants: Grant[] = [
      {
        kind: 'patient-scoped',
        user: 'dan',
        id: await f.grant('dan', 'analyst', '10m', { patientIds: [1, 2, 3].map(mrnOf) }),
        scope: [1, 2, 3],
        items: workload([1, 3, 10]),
      },
      {
        kind: 'no scope',
        user: 'alice',
        id: await f.grant('alice', 'support', '10m'),
        scope: null,
        items: workload([7, 24, 30]),
      },
      {
        kind: 'care relation',
        user: 'olivia',
        id: await f.grant('olivia', 'attending', '10m'),
        scope: [1, 2, 3, 4, 5],
        items: workload([2, 5, 6]),
      },
      {
        kind: 'break-glass',
        user: 'olivia',
        id: await f.grant('olivia', 'breakglass', '10m', { purpose: 'ETREAT' }),
        scope: null,
        items: workload([8, 15, 33]),
      },
    ];

    // Run each grant's workload: pg (simple and extended protocol) in one session, raw protocol in another.
    const ran = new Map<string, Ran[]>(); // per session, in order of completion
    const port = f.phigate.gateway!.port;
    for (const g of grants) {
      const { body } = await f.connection(g.user, { grantId: g.id });
      const client = f.client(g.user, body.gateway.password);
      await client.connect();
      const viaPg: Ran[] = [];
      for (const item of g.items.filter((i) => i.how.kind !== 'wire')) {
        const values = item.how.kind === 'extended' ? [...item.how.values] : undefined;
        const received = await client.query(item.sql, values).then(
          (r) => r.rows.length,
          () => 0,
        );
        viaPg.push({ item, grant: g, received });
      }
      await client.end();
      const wire: TLSSocket = await wireSession(f, port, g.user, g.id);
      const viaWire: Ran[] = [];
      for (const item of g.items) {
        if (item.how.kind !== 'wire') continue;
        wire.write(Buffer.concat(item.how.messages(item.sql)));
        const received = rowsIn(await untilReady(wire));
        if (item.how.completes) viaWire.push({ item, grant: g, received });
      }
      wire.end(fe.terminate());
      ran.set(`${g.id}:0`, viaPg);
      ran.set(`${g.id}:1`, viaWire);
    }
    await new Promise((r) => setTimeout(r, 500)); // the sessions' ends are recorded

    // Which recorded statement is which scripted one: each session's statement executions, in order.
    const byStatement = new Map<string, Ran>();
    for (const g of grants) {
      const records = (await f.auditActions(g.id)).map(
        (r) =>
          JSON.parse(r.canonical) as {
            action: string;
            how?: { sessionId?: string };
            detail?: { results?: { statementId: number; run?: number; fingerprint?: string }[] };
          },
      );
      const sessions = records.filter((r) => r.action === 'session.open').map((r) => r.how!.sessionId!);
      assert.equal(sessions.length, 2);
      sessions.forEach((sessionId, n) => {
        const runs: { id: number; fingerprint?: string }[] = [];
        for (const r of records) {
          if (r.action !== 'statement.complete' || r.how?.sessionId !== sessionId) continue;
          for (const x of r.detail?.results ?? []) {
            if (x.run !== undefined && runs.some((k) => k.id === x.run)) continue;
            runs.push({
              id: x.run ?? x.statementId,
              ...(x.fingerprint ? { fingerprint: x.fingerprint } : {}),
            });
          }
        }
        runs.sort((a, b) => a.id - b.id);
        const items = ran.get(`${g.id}:${n}`)!;
        assert.equal(
          runs.length,
          items.length,
          `${g.kind} session ${n}: one execution per scripted statement`,
        );
        runs.forEach((run, i) => {
          if (run.fingerprint !== undefined)
            assert.equal(run.fingerprint, fingerprintSql(items[i]!.item.sql).fingerprint);
          byStatement.set(`${sessionId}:${run.id}`, items[i]!);
        });
      });
    }
    const statements = [...byStatement.values()];
    assert.ok(statements.length >= 150, `${statements.length} statements`);

    // The truth, from the clinic's rows and what the client received.
    const truth = new Set<string>();
    const key = (r: Ran, patient: number) => `${[...byStatement].find(([, v]) => v === r)![0]}|${patient}`;
    for (const r of statements) {
      if (r.received === 0) continue;
      const scope = r.grant.scope;
      for (const p of r.item.truth((id) => scope === null || scope.includes(id), clinic))
        truth.add(key(r, p));
    }

    // The reports.
    const listed = new Set<string>();
    const unattributed = new Set<string>();
    const perKind = new Map<string, { tp: number; fp: number; truth: number; covered: number }>(
      grants.map((g) => [g.kind, { tp: 0, fp: 0, truth: 0, covered: 0 }]),
    );
    for (const p of clinic.patients) {
      const r = await f.api('priya', 'POST', '/v1/audit/disclosures', { patient: mrnOf(p), format: 'json' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      type Entry = { sessionId: string; statementId: number };
      const entries = r.body['entries'] as Entry[];
      const apart = r.body['unattributed'] as Entry[];
      const ids = [...entries, ...apart].map((e) => `${e.sessionId}:${e.statementId}`);
      assert.equal(new Set(ids).size, ids.length, `no statement twice in ${mrnOf(p)}’s report`);
      for (const e of entries) {
        assert.ok(byStatement.has(`${e.sessionId}:${e.statementId}`), 'every entry is a scripted statement');
        listed.add(`${e.sessionId}:${e.statementId}|${p}`);
      }
      for (const e of apart) unattributed.add(`${e.sessionId}:${e.statementId}|${p}`);
    }
    const missing = [...truth].filter((t) => !listed.has(t) && !unattributed.has(t));
    const wrong = [...listed].filter((l) => !truth.has(l));
    for (const t of truth) {
      const k = perKind.get(byStatement.get(t.split('|')[0]!)!.grant.kind)!;
      k.truth += 1;
      if (listed.has(t)) k.tp += 1;
      if (listed.has(t) || unattributed.has(t)) k.covered += 1;
    }
    for (const l of wrong) perKind.get(byStatement.get(l.split('|')[0]!)!.grant.kind)!.fp += 1;
    const recall = (truth.size - missing.length) / truth.size;
    const precision = (listed.size - wrong.length) / listed.size;
    const attributed = (truth.size - [...truth].filter((t) => !listed.has(t)).length) / truth.size;
    const lines = [
      `statements ${statements.length}; true (statement, patient) pairs ${truth.size}; listed ${listed.size}; unattributed pairs ${unattributed.size}`,
      `recall ${recall.toFixed(3)}; precision of attributed entries ${precision.toFixed(3)}; share of true pairs attributed from results ${attributed.toFixed(3)}`,
      ...[...perKind].map(
        ([kind, k]) =>
          `  ${kind}: true ${k.truth}, covered ${k.covered} (recall ${(k.covered / k.truth).toFixed(3)}), attributed ${k.tp}, wrongly attributed ${k.fp} (precision ${(k.tp / Math.max(1, k.tp + k.fp)).toFixed(3)})`,
      ),
    ];
    console.log(lines.join('\n'));
    assert.deepEqual(
      missing.map((m) => `${byStatement.get(m.split('|')[0]!)!.item.sql} → patient ${m.split('|')[1]}`),
      [],
      'every disclosure is in the patient’s accounting',
    );
    assert.equal(recall, 1);
    assert.ok(precision >= 0.95, `precision ${precision}`);
  });
});
