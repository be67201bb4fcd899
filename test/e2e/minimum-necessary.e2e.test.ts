/**
 * Minimum necessary through the gateway, as users meet it: a patient-scoped analyst grant sees masked values of its
 * patients only, whatever SQL it writes (ATTACKS 29–35); and a scripted clinic day — several people, overlapping
 * grants, a break-glass episode — after which one patient's accounting of disclosures lists exactly the accesses
 * that could reach their rows, and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { psqlAvailable } from '../../src/demo/psql.js';
import * as fe from '../../src/gateway/postgres/frontend-encode.js';
import { roleNameFor } from '../../src/provisioner/role-plan.js';
import {
  forbiddenValues,
  pgRunner,
  psqlRunner,
  SCOPED_PATIENTS,
  tryEveryBypass,
} from '../support/bypass-attempts.js';
import { RESOURCE, startGatewayFixture, type GatewayFixture } from '../support/gateway.js';
import { session as wireSession, untilReady } from '../support/wire.js';

const PHI = `
    phi:
      public.patients:
        patientKey: mrn
        columns: { mrn: mrn, name: names, birth_date: dates, zip: { kind: geography, mask: zip3 }, ssn: ssn }
      public.encounters:
        patientKey: { column: patient_id, references: public.patients.id }
        columns: { admitted_at: dates, discharged_at: dates }
      public.observations:
        patientKey: { column: encounter_id, references: public.encounters.id }
        columns: { observed_at: dates }
      public.care_team:
        patientKey: { column: patient_id, references: public.patients.id }`;

const POLICY = `version: 1
auditors: { groups: [privacy-office] }
resources:
  ${RESOURCE}:
    kind: postgres
    connection: { host: 127.0.0.1, port: 5432, database: unused }${PHI}
approvalRules:
  auto:
    autoApprove: [{ groups: [analysts, physicians, support] }]
    approvers: { groups: [clinical-leads] }
  leads:
    approvers: { groups: [clinical-leads] }
roles:
  analyst:
    resource: ${RESOURCE}
    eligibleGroups: [analysts]
    access:
      public.patients: { columns: [id, mrn, name, birth_date, zip], masks: { mrn: pseudonym } }
      public.encounters: { columns: [id, patient_id, admitted_at, discharged_at, department] }
      public.observations: { columns: [id, encounter_id, code, value, observed_at] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    patientScope: required
    approval: auto
  physician:
    resource: ${RESOURCE}
    eligibleGroups: [physicians]
    access:
      public.patients: { columns: [id, mrn, name], masks: { mrn: clear, name: clear } }
      public.encounters: { columns: [id, patient_id, department] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    patientScope: required
    approval: auto
  attending:
    resource: ${RESOURCE}
    eligibleGroups: [physicians, clinical-leads]
    access:
      public.patients: { columns: [id, mrn, name], masks: { mrn: clear, name: clear } }
      public.encounters: { columns: [id, patient_id, department] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    patientScope: optional
    careRelation:
      { table: public.care_team, requesterColumn: clinician, validFrom: starts_on, validUntil: ends_on }
    approval: auto
  attending-review:
    resource: ${RESOURCE}
    eligibleGroups: [physicians]
    access:
      public.patients: { columns: [id, mrn] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    patientScope: optional
    careRelation: { table: public.care_team, requesterColumn: clinician, validUntil: ends_on }
    approval: leads
  registrar:
    resource: ${RESOURCE}
    eligibleGroups: [support]
    access:
      public.patients: { columns: [id, mrn, zip], masks: { mrn: clear } }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
  breakglass:
    resource: ${RESOURCE}
    eligibleGroups: [oncall]
    access:
      public.patients: { columns: [id, mrn, name], masks: { mrn: clear, name: clear } }
    duration: { default: 10m, max: 30m }
    purposes: [ETREAT, BTG]
    patientScope: required
    emergency: true
`;

describe('minimum necessary through the gateway', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture({ policy: POLICY });
  });
  after(async () => {
    await f.stop();
  });

  it('a scoped grant’s role and patient set are made when it activates, before any connection', async () => {
    const grantId = await f.grant('dan', 'analyst', '10m', { patientIds: SCOPED_PATIENTS });
    const role = roleNameFor(grantId);
    // phigate's schema in the database is itself made by the first provisioning.
    const patientsOfRole = async (): Promise<number> => {
      const [made] = await f.protectedDb.query<{ ok: boolean }>(
        `select to_regclass('phigate.grant_patients') is not null as ok`,
      );
      if (!made!.ok) return 0;
      const [count] = await f.protectedDb.query<{ n: number }>(
        'select count(*)::int as n from phigate.grant_patients where role_name = $1',
        [role],
      );
      return count!.n;
    };
    const deadline = Date.now() + 10_000;
    while ((await patientsOfRole()) === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(await patientsOfRole(), SCOPED_PATIENTS.length);
    await f.revoke('dan', grantId);
  });

  it('a care relation gives a physician her current patients, and only them', async () => {
    // The synthetic care team: Olivia attends patients 1–5, attended patient 6 until mid-2025, Chris attends 7–9.
    const mine = ['MRN-DEMO-0001', 'MRN-DEMO-0002', 'MRN-DEMO-0003', 'MRN-DEMO-0004', 'MRN-DEMO-0005'];
    const grantId = await f.grant('olivia', 'attending');
    const asked = await f.api('olivia', 'GET', `/v1/requests/${grantId}`);
    assert.deepEqual([...(asked.body['patientIds'] as string[])].sort(), mine);
    const { body } = await f.connection('olivia', { grantId });
    const client = f.client('olivia', body.gateway.password);
    await client.connect();
    try {
      const rows = await client.query<{ mrn: string }>('select mrn from patients order by mrn');
      assert.deepEqual(
        rows.rows.map((r) => r.mrn),
        mine,
      );
      const encounters = await client.query<{ n: number }>('select count(*)::int as n from encounters');
      assert.equal(encounters.rows[0]!.n, 15);
    } finally {
      await client.end();
    }
    await f.revoke('olivia', grantId);

    const ask = (patientIds: string[]) =>
      f.api('olivia', 'POST', '/v1/requests', {
        resource: RESOURCE,
        role: 'attending',
        duration: '10m',
        purpose: 'HOPERAT',
        justification: 'Rounds on my synthetic patients',
        patientIds,
      });
    const some = await ask(['MRN-DEMO-0002']);
    assert.equal(some.status, 201, JSON.stringify(some.body));
    assert.deepEqual(some.body['patientIds'], ['MRN-DEMO-0002']);
    await f.revoke('olivia', some.body['id'] as string);
    for (const outside of [['MRN-DEMO-0007'], ['MRN-DEMO-0006'], ['MRN-DEMO-0001', 'MRN-DEMO-0040']]) {
      const refused = await ask(outside);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body['code'], 'patients.outside-care-relation', JSON.stringify(refused.body));
      assert.doesNotMatch(JSON.stringify(refused.body), /MRN-DEMO-00(0[67]|40)/);
    }
    // Carol may hold the role, but is on nobody's care team.
    const lead = await f.api('carol', 'POST', '/v1/requests', {
      resource: RESOURCE,
      role: 'attending',
      duration: '10m',
      purpose: 'HOPERAT',
      justification: 'Rounds on my synthetic patients',
    });
    assert.equal(lead.status, 403, JSON.stringify(lead.body));
    assert.equal(lead.body['code'], 'patients.no-care-relation');
  });

  it('an approval that would activate a care-relation grant checks the relation again', async () => {
    const asked = await f.api('olivia', 'POST', '/v1/requests', {
      resource: RESOURCE,
      role: 'attending-review',
      duration: '10m',
      purpose: 'HOPERAT',
      justification: 'Review of a synthetic patient of mine',
      patientIds: ['MRN-DEMO-0003'],
    });
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    assert.equal(asked.body['status'], 'pending');
    const id = asked.body['id'] as string;
    // Meanwhile the patient leaves Olivia's care team.
    const leave = (endsOn: string | null) =>
      f.protectedDb.query(`update care_team set ends_on = $1 where patient_id = 3 and clinician = 'olivia'`, [
        endsOn,
      ]);
    await leave('2026-01-01');
    try {
      const refused = await f.api('carol', 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body['code'], 'patients.outside-care-relation');
    } finally {
      await leave(null);
    }
    const approved = await f.api('carol', 'POST', `/v1/requests/${id}/approve`, {});
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body['status'], 'active');
    await f.revoke('olivia', id);
  });

  it('a grant ends, and its live session is cut, when a patient leaves the requester’s care team', async () => {
    const grantId = await f.grant('olivia', 'attending');
    const { body } = await f.connection('olivia', { grantId });
    const client = f.client('olivia', body.gateway.password);
    // The first error is the gateway's FATAL to the idle session.
    const cut = new Promise<Error>((resolve) => client.on('error', resolve));
    const leave = (endsOn: string | null) =>
      f.protectedDb.query(`update care_team set ends_on = $1 where patient_id = 4 and clinician = 'olivia'`, [
        endsOn,
      ]);
    const status = async () => (await f.api('olivia', 'GET', `/v1/requests/${grantId}`)).body;
    await client.connect();
    try {
      assert.equal((await client.query('select mrn from patients')).rowCount, 5);
      // While the relation holds, a round changes nothing.
      await f.phigate.careRelations.checkNow();
      assert.equal((await status())['status'], 'active');

      await leave('2026-01-01');
      // A round now (the minute's timed round may have been first: either way the grant has ended after it).
      await f.phigate.careRelations.checkNow();
      const ended = await status();
      assert.equal(ended['status'], 'revoked');
      assert.equal(ended['endReason'], 'care-relation-ended');
      assert.match((await cut).message, new RegExp(`grant ${grantId} .* was revoked at`));
      const revoke = (await f.auditActions(grantId)).find((e) => e.action === 'grant.revoke');
      assert.ok(revoke !== undefined);
      assert.match(revoke.canonical, /"authority":"care-relation"/);
      assert.doesNotMatch(revoke.canonical, /MRN-DEMO/);
    } finally {
      await leave(null);
      await client.end().catch(() => undefined);
    }
  });

  it('a scoped analyst grant sees masked values of its patients only, whatever the SQL (ATTACKS 29–35)', async () => {
    const grantId = await f.grant('dan', 'analyst', '10m', { patientIds: SCOPED_PATIENTS });
    const { body } = await f.connection('dan');
    const client = f.client('dan', body.gateway.password);
    client.on('error', () => undefined);
    await client.connect();
    try {
      const outcomes = await tryEveryBypass({
        run: pgRunner(client),
        psql: psqlAvailable() ? psqlRunner(body.gateway) : undefined,
        forbidden: await forbiddenValues((sql) => f.protectedDb.query<{ v: string }>(sql)),
      });
      // The gateway's guard is the first to refuse what it recognises; the session stays usable after each.
      assert.match(outcomes.get('set search_path = public; select name from patients')!.text, /search_path/);
      assert.match(
        outcomes.get('create temp table patients as select * from public.patients')!.text,
        /objects/,
      );
    } finally {
      await client.end();
    }
    await f.revoke('dan', grantId);
  });
});

describe('a clinic day, and one patient’s accounting of disclosures', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture({ policy: POLICY });
  });
  after(async () => {
    await f.stop();
  });

  /** Connects through the gateway on `grantId`, runs `sql`, closes. */
  const session = async (user: string, grantId: string, sql: readonly string[]): Promise<unknown[][]> => {
    const { body } = await f.connection(user, { grantId });
    const client = f.client(user, body.gateway.password);
    await client.connect();
    try {
      const results: unknown[][] = [];
      for (const statement of sql) results.push((await client.query(statement)).rows);
      return results;
    } finally {
      await client.end();
    }
  };

  it('lists each statement that disclosed the patient once, apart when it could not be keyed; break-glass marked', async () => {
    // 08:00 Dan, analyst, reviews two patients; Olivia, physician, treats patients 2 and 3 while his grant is open.
    const dan1 = await f.grant('dan', 'analyst', '10m', { patientIds: ['MRN-DEMO-0001', 'MRN-DEMO-0002'] });
    const olivia = await f.grant('olivia', 'physician', '10m', {
      patientIds: ['MRN-DEMO-0002', 'MRN-DEMO-0003'],
    });
    const [danCount] = await session('dan', dan1, [
      'select count(*)::int as n from encounters',
      'select name from patients',
      // Reads nothing of a patient: not a disclosure.
      'select 1',
    ]);
    assert.deepEqual(danCount, [{ n: 6 }]);
    const [names, chart, none] = await session('olivia', olivia, [
      'select name from patients order by id',
      "select mrn, name from patients where mrn = 'MRN-DEMO-0002'",
      "select mrn from patients where mrn = 'MRN-DEMO-0099'",
    ]);
    assert.equal(names!.length, 2);
    assert.equal(chart!.length, 1);
    assert.equal(none!.length, 0);
    // 11:00 an emergency: Olivia breaks the glass for patient 4 (no approver); 14:00 Dan reviews patient 5.
    const glass = await f.grant('olivia', 'breakglass', '10m', {
      patientIds: ['MRN-DEMO-0004'],
      purpose: 'ETREAT',
    });
    await session('olivia', glass, ['select mrn, name from patients']);
    await f.revoke('dan', dan1);
    const dan2 = await f.grant('dan', 'analyst', '10m', { patientIds: ['MRN-DEMO-0005'] });
    await session('dan', dan2, ['select count(*) from observations']);

    type Entry = {
      action: string;
      requestId: string;
      what?: string | undefined;
      emergency: boolean;
      basis?: string;
    };
    const report = async (patient: string) => {
      const r = await f.api('priya', 'POST', '/v1/audit/disclosures', { patient, format: 'json' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as unknown as { entries: Entry[]; unattributed: Entry[]; accessGranted: Entry[] };
    };
    const line = (e: Entry) =>
      `${e.requestId === dan1 ? 'dan' : e.requestId === olivia ? 'olivia' : 'other'} ${e.basis ?? e.action} ${e.what ?? ''}`.trim();
    const two = await report('MRN-DEMO-0002');
    assert.deepEqual(two.entries.map(line), ['olivia result select mrn, name from patients where mrn = ?']);
    assert.deepEqual(two.unattributed.map(line).sort(), [
      'dan grant-scope select count(*)::int as n from encounters',
      'dan grant-scope select name from patients',
      'olivia grant-scope select name from patients order by id',
    ]);
    assert.deepEqual([...new Set(two.accessGranted.map((e) => line({ ...e, what: undefined })))].sort(), [
      'dan grant.activate',
      'dan session.open',
      'olivia grant.activate',
      'olivia session.open',
    ]);
    const three = await report('MRN-DEMO-0003');
    assert.deepEqual(three.entries, [], 'the keyed statement returned patient 2’s row only');
    assert.deepEqual(three.unattributed.map(line), [
      'olivia grant-scope select name from patients order by id',
    ]);

    const four = await report('MRN-DEMO-0004');
    assert.deepEqual(
      four.entries.map((e) => [e.requestId, e.what, e.emergency]),
      [[glass, 'select mrn, name from patients', true]],
      'break-glass access is marked as emergency',
    );
    const nobody = await report('MRN-DEMO-0040');
    assert.deepEqual(
      [nobody.entries, nobody.unattributed, nobody.accessGranted],
      [[], [], []],
      'a patient nobody asked for has nothing to account for',
    );
  });

  it('accounts a grant that names no patients from the patient ids its statements returned', async () => {
    const grantId = await f.grant('alice', 'registrar', '10m');
    const mrns = new Map(
      (
        await f.protectedDb.query<{ id: number; mrn: string }>(
          'select id, mrn from public.patients where id between 7 and 12',
        )
      ).map((r) => [r.id, r.mrn]),
    );
    // Extended protocol (pg describes each portal).
    await session('alice', grantId, [
      'select mrn from patients where id = 7',
      'select count(*) from patients',
      'select p.mrn as m, p.zip from patients p where p.id in (8, 9)',
    ]);
    // Simple protocol.
    if (psqlAvailable()) {
      const { body } = await f.connection('alice', { grantId });
      const r = await psqlRunner(body.gateway)('select mrn from patients where id = 10');
      assert.ok(r.ok, r.text);
    } else mrns.delete(10);
    // A prepared statement described once, then executed with binary results and no Describe.
    const port = f.phigate.gateway!.port;
    const wire = await wireSession(f, port, 'alice', grantId);
    wire.write(
      Buffer.concat([
        fe.parse('by_id', 'select zip, mrn from patients where id = $1'),
        fe.describe('S', 'by_id'),
        fe.sync(),
      ]),
    );
    await untilReady(wire);
    wire.write(
      Buffer.concat([
        fe.bind('', 'by_id', [Buffer.from('11')], { resultFormats: [1] }),
        fe.execute(''),
        fe.sync(),
      ]),
    );
    const answer = (await untilReady(wire)).toString('latin1');
    assert.ok(answer.includes(mrns.get(11)!), 'the row came back');
    wire.end(fe.terminate());

    const report = async (patient: string) => {
      const r = await f.api('priya', 'POST', '/v1/audit/disclosures', { patient, format: 'json' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body['entries'] as { action: string; requestId: string; what?: string }[];
    };
    // `select count(*) from patients` disclosed an aggregate of every patient: listed apart, for each of them.
    const apart = await f.api('priya', 'POST', '/v1/audit/disclosures', {
      patient: mrns.get(12),
      format: 'json',
    });
    assert.deepEqual(
      (apart.body['unattributed'] as { what: string; reasonCode: string }[]).map((e) => [
        e.what,
        e.reasonCode,
      ]),
      [['select count(*) from patients', 'no-key']],
    );
    const expected = new Map([
      [7, 'select mrn from patients where id = ?'],
      [8, 'select p.mrn as m, p.zip from patients p where p.id in (?, ?)'],
      [9, 'select p.mrn as m, p.zip from patients p where p.id in (?, ?)'],
      [10, 'select mrn from patients where id = ?'],
      [11, 'select zip, mrn from patients where id = $1'],
    ]);
    for (const [id, fingerprint] of expected) {
      const mrn = mrns.get(id);
      if (mrn === undefined) continue;
      // Completions are written as sessions end, a moment after the client has gone.
      const deadline = Date.now() + 10_000;
      let entries = await report(mrn);
      while (entries.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        entries = await report(mrn);
      }
      assert.deepEqual(
        entries.map((e) => [e.action, e.requestId, e.what]),
        [['statement.complete', grantId, fingerprint]],
        `patient ${id}`,
      );
    }
    assert.deepEqual(await report(mrns.get(12)!), [], 'a patient no statement returned');
  });
});
