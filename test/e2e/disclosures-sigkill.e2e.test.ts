/**
 * A read acknowledged to the client is in the patient's accounting even when phigate is killed right after it
 * (issue 13, `gateway.auditWait: durable`): the record naming the patients a statement returned is written before
 * the client is told the statement completed. The gateway runs in a replica process of its own, really killed with
 * SIGKILL the moment the client has its answer; the report is then read through the surviving phigate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { ReplicaProcess } from '../support/replica-process.js';
import {
  RESOURCE,
  startGatewayFixture,
  type ConnectionAnswer,
  type GatewayFixture,
} from '../support/gateway.js';

const POLICY = `version: 1
auditors: { groups: [privacy-office] }
resources:
  ${RESOURCE}:
    kind: postgres
    connection: { host: 127.0.0.1, port: 5432, database: unused }
    phi:
      public.patients:
        patientKey: mrn
        columns: { mrn: mrn, name: names }
      public.encounters:
        patientKey: { column: patient_id, references: public.patients.id }
approvalRules:
  auto:
    autoApprove: [{ groups: [support] }]
    approvers: { groups: [clinical-leads] }
roles:
  support:
    resource: ${RESOURCE}
    eligibleGroups: [support]
    access:
      public.patients: { columns: [id, mrn, name], masks: { mrn: clear, name: clear } }
      public.encounters: { columns: [id, patient_id, department] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
`;

describe('accounting of disclosures across a SIGKILL', () => {
  let f: GatewayFixture;
  let b: ReplicaProcess | undefined;
  before(async () => {
    f = await startGatewayFixture({ policy: POLICY });
  });
  after(async () => {
    if (b !== undefined && b.child.exitCode === null && b.child.signalCode === null) await b.kill('SIGKILL');
    await f?.stop();
  });

  it('a read the client received is in the patient’s accounting after phigate is killed', async () => {
    b = await f.test.startReplicaProcess(['alice']);
    const callB = async (path: string, body: unknown) => {
      const res = await fetch(new URL(path, b!.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${b!.tokens.get('alice')}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const created = await callB('/v1/requests', {
      resource: RESOURCE,
      role: 'support',
      duration: '10m',
      purpose: 'HOPERAT',
      justification: 'SIGKILL test of the synthetic clinic',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const grantId = created.body.id as string;
    const token = await callB('/v1/connections', { resource: RESOURCE, grantId });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const client = new pg.Client({
      host: '127.0.0.1',
      port: b.gatewayPort,
      user: 'alice',
      password: (token.body as unknown as ConnectionAnswer).gateway.password,
      database: RESOURCE,
      ssl: { rejectUnauthorized: false },
    });
    client.on('error', () => undefined);
    await client.connect();
    // The encounter's patient comes back as a foreign key (patients.id), looked up to the key before the answer.
    const read = await client.query('select id, patient_id, department from encounters where id = 170');
    const killed = b.kill('SIGKILL');
    assert.equal(read.rows.length, 1, 'the client has the row');
    assert.equal(await killed, 'SIGKILL');
    await client.end().catch(() => undefined);

    const report = await f.api('priya', 'POST', '/v1/audit/disclosures', {
      patient: 'MRN-DEMO-0017',
      format: 'json',
    });
    assert.equal(report.status, 200, JSON.stringify(report.body));
    const entries = report.body['entries'] as { requestId: string; what: string; basis: string }[];
    assert.deepEqual(
      entries.map((e) => [e.requestId, e.what, e.basis]),
      [[grantId, 'select id, patient_id, department from encounters where id = ?', 'result']],
    );
  });
});
