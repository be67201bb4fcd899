/**
 * A request's named patients must exist in the protected database: asked through the API with real tokens, looked
 * up in a real protected PostgreSQL through phigate's provisioning account. Unknown ids are refused
 * (`patients.unknown`, how many but never which) and nothing is stored; the approver sees how many were found; a
 * database that cannot be asked fails closed (503); a resource with nothing to ask is not looked up, and says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../test/support/cli.js';
import { RESOURCE, startGatewayFixture, type GatewayFixture } from '../../test/support/gateway.js';

const PHI = `
    phi:
      public.patients: { patientKey: mrn, columns: { mrn: mrn } }
      public.encounters: { patientKey: { column: patient_id, references: public.patients.id } }`;

const role = (name: string, resource: string) => `
  ${name}:
    resource: ${resource}
    eligibleGroups: [analysts]
    access:
      public.encounters: { columns: [id, patient_id, department], operations: [SELECT] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    patientScope: required
    approval: one-lead`;

const POLICY = `version: 1
settings: { maxPatientIds: 500 }
resources:
  ${RESOURCE}:
    kind: postgres
    connection: { host: 127.0.0.1, port: 5432, database: unused }${PHI}
  offline:
    kind: postgres${PHI}
  unconfigured:
    kind: postgres${PHI}
approvalRules:
  one-lead: { approvers: { groups: [clinical-leads], count: 1 } }
roles:${role('chart', RESOURCE)}${role('offline-chart', 'offline')}${role('unconfigured-chart', 'unconfigured')}
`;

describe('named patients must exist', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture({
      policy: POLICY,
      // A provisioning account phigate cannot reach: nothing listens on port 1.
      resourcesYaml: `    offline:
      host: 127.0.0.1
      port: 1
      database: nowhere
      adminUrl: 'postgres://nobody@127.0.0.1:1/nowhere'`,
    });
  });
  after(async () => {
    await f?.stop();
  });

  const ask = (role: string, resource: string, patientIds: readonly string[]) =>
    f.api('dan', 'POST', '/v1/requests', {
      resource,
      role,
      purpose: 'HOPERAT',
      justification: 'Quality review of the synthetic clinic',
      patientIds,
    });
  const mine = async () =>
    ((await f.api('dan', 'GET', '/v1/requests?limit=200')).body['items'] as unknown[]).length;
  const refusals = async (code: string) => {
    const rows = await f.phigate.store.db
      .selectFrom('audit_events')
      .select('canonical')
      .where('action', '=', 'request.create')
      .where('reason_code', '=', code)
      .execute();
    return rows.map((r) => r.canonical);
  };

  it('refuses 500 made-up patient ids, saying how many but not which, and stores nothing', async () => {
    const before = await mine();
    const madeUp = Array.from({ length: 500 }, (_, i) => `MRN-NOBODY-${String(i).padStart(4, '0')}`);
    const answer = await ask('chart', RESOURCE, madeUp);
    assert.equal(answer.status, 400);
    assert.equal(answer.body['code'], 'patients.unknown');
    assert.equal(answer.body['detail'], `500 of the 500 patient ids named are not in ${RESOURCE}`);
    assert.equal(answer.body['unknown'], 500);
    assert.doesNotMatch(JSON.stringify(answer.body), /MRN-NOBODY/, 'no id is echoed');
    assert.equal(await mine(), before, 'nothing pending');

    const recorded = await refusals('patients.unknown');
    assert.equal(recorded.length, 1);
    const event = JSON.parse(recorded[0]!) as { what: { patients: string[] }; detail: { unknown: number } };
    assert.equal(event.detail.unknown, 500);
    assert.equal(event.what.patients.length, 500, 'the ids asked for, as tokens');
    assert.doesNotMatch(recorded[0]!, /MRN-NOBODY/, 'the log keeps tokens, not ids');
  });

  it('refuses one unknown id among real ones; hostile ids are data', async () => {
    const one = await ask('chart', RESOURCE, ['MRN-DEMO-0001', 'MRN-DEMO-0002', 'MRN-NOBODY']);
    assert.equal(one.status, 400);
    assert.equal(one.body['detail'], `1 of the 3 patient ids named is not in ${RESOURCE}`);
    // Hostile ids are data: they match nothing and change nothing.
    const hostile = await ask('chart', RESOURCE, [
      "MRN-DEMO-0001' or '1'='1",
      'MRN-DEMO-0001; drop table patients',
    ]);
    assert.equal(hostile.status, 400);
    assert.equal(hostile.body['unknown'], 2);
    const left = await f.protectedDb.query<{ n: number }>('select count(*)::int as n from patients');
    assert.equal(left[0]!.n, 40);
  });

  it('accepts patients that exist, and shows the approver how many were found', async () => {
    const asked = await ask('chart', RESOURCE, ['MRN-DEMO-0002', 'MRN-DEMO-0001']);
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    assert.equal(asked.body['status'], 'pending');
    assert.equal(asked.body['patientsFound'], 2);
    const id = String(asked.body['id']);
    const seen = await f.api('carol', 'GET', `/v1/requests/${id}`);
    assert.equal(seen.body['patientsFound'], 2);
    const show = await runCli(['show', id], {
      PHIGATE_API_URL: f.phigate.url,
      PHIGATE_TOKEN: await f.phigate.mintDevToken!('carol'),
    });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`found +2 of 2 in ${RESOURCE}`));
  });

  it('fails closed when the database cannot be asked, and says so when there is nothing to ask', async () => {
    const before = await mine();
    const offline = await ask('offline-chart', 'offline', ['MRN-DEMO-0001']);
    assert.equal(offline.status, 503);
    assert.equal(offline.body['code'], 'patients.existence-unknown');
    assert.equal(await mine(), before);
    assert.equal((await refusals('patients.existence-unknown')).length, 1);

    // No provisioning account for it: phigate cannot look (nor open it through the gateway).
    const unchecked = await ask('unconfigured-chart', 'unconfigured', ['MRN-ANYTHING']);
    assert.equal(unchecked.status, 201, JSON.stringify(unchecked.body));
    assert.equal(unchecked.body['patientsFound'], undefined);
  });
});
