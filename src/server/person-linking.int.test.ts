/**
 * Separation of duties counts humans, not accounts (ATTACKS 12): a real phigate on real PostgreSQL trusting two
 * real issuers (discovery and JWKS on loopback sockets, ES256 access tokens), with `identity.personClaims`. One human
 * holding accounts at both issuers, or two at one, cannot approve their own request, fill two slots of a quorum, or
 * review their own break-glass access; `requirePerson` refuses approvers phigate cannot link; and the audit log
 * records the linking without holding an e-mail address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startTestIssuer, type TestIssuer } from '../../test/support/test-issuer.js';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import type { RunningPhigate } from './start.js';

const POLICY = `
version: 1
auditors: { groups: [privacy-office] }
resources: { clinic-db: { kind: postgres } }
approvalRules:
  one-lead: { approvers: { groups: [clinical-leads], count: 1, requireMfa: true } }
  two-leads: { approvers: { groups: [clinical-leads], count: 2, requireMfa: true } }
  one-known-lead: { approvers: { groups: [clinical-leads], count: 1, requireMfa: true, requirePerson: true } }
roles:
  analyst:
    resource: clinic-db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h, cumulativeMax: 100h }
    purposes: [HOPERAT]
    approval: one-lead
  chart:
    resource: clinic-db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h, cumulativeMax: 100h }
    purposes: [HOPERAT]
    approval: two-leads
  audited:
    resource: clinic-db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h, cumulativeMax: 100h }
    purposes: [HOPERAT]
    approval: one-known-lead
  breakglass:
    resource: clinic-db
    eligibleGroups: [oncall]
    duration: { default: 30m, max: 1h }
    purposes: [ETREAT, BTG]
    emergency: true
`;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Claims of a signed-in person; names carry no '@', so any address in the audit log came from an e-mail claim. */
const lead = (name: string, email: string | undefined, extra: Record<string, unknown> = {}) => ({
  name,
  ...(email !== undefined ? { email, email_verified: true } : {}),
  groups: ['clinical-leads'],
  amr: ['pwd', 'otp'],
  ...extra,
});

describe('one person under several accounts (ATTACKS 12)', () => {
  let hospital: TestIssuer;
  let partner: TestIssuer;
  let server: TestPhigate;
  let phigate: RunningPhigate;
  const tokens: Record<string, string> = {};

  const call = async (who: string, method: string, url: string, body?: unknown): Promise<Answer> => {
    const token = tokens[who];
    assert.ok(token, `no token for ${who}`);
    const res = await fetch(`${phigate.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Answer['body']) : {} };
  };

  const ask = async (who: string, role: string): Promise<string> => {
    const created = await call(who, 'POST', '/v1/requests', {
      resource: 'clinic-db',
      role,
      duration: '30m',
      purpose: 'HOPERAT',
      justification: 'Readmission analysis for the quality board',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body['status'], 'pending');
    return String(created.body['id']);
  };

  const statusOf = async (id: string): Promise<unknown> =>
    (await call('dan', 'GET', `/v1/requests/${id}`)).body['status'];

  /** The audit events of a request, parsed from the canonical bytes the log hashed. */
  const auditOf = async (id: string) =>
    (
      await phigate.store.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'reason_code', 'actor_id', 'canonical'])
        .where('request_id', '=', id)
        .orderBy('seq')
        .execute()
    ).map((e) => ({ ...e, detail: (JSON.parse(e.canonical) as { detail: Record<string, unknown> }).detail }));

  before(async () => {
    [hospital, partner] = await Promise.all([startTestIssuer(), startTestIssuer()]);
    server = await startTestPhigate({
      config: [
        'identity:',
        '  personClaims: [employee_number]',
        '  issuers:',
        `    - ${hospital.configEntry()}`,
        `    - ${partner.configEntry()}`,
        '',
      ].join('\n'),
      policy: { source: POLICY, sourceName: 'person-linking-policy.yaml' },
    });
    phigate = server.phigate;
    const mint = async (
      who: string,
      issuer: TestIssuer,
      subject: string,
      claims: Record<string, unknown>,
    ) => {
      tokens[who] = await issuer.mint(subject, claims);
    };
    await Promise.all([
      // Dan requests at the hospital, and holds other accounts: at the partner (the same mailbox, spelled
      // differently), a second one at the hospital, one linked by his employee number only, one whose address the
      // partner never verified.
      mint('dan', hospital, 'dan', {
        name: 'Dan Analyst',
        email: 'Dan.Analyst@clinic.example',
        email_verified: true,
        employee_number: 'E-1001',
        groups: ['analysts'],
        amr: ['pwd'],
      }),
      mint('dan@partner', partner, 'd.analyst', lead('Dan A.', ' dan.analyst+partner@CLINIC.EXAMPLE ')),
      mint('dan-admin', hospital, 'dan-admin', lead('Dan (admin account)', 'dan.analyst@clinic.example')),
      mint(
        'dan#employee',
        partner,
        'e1001',
        lead('D. Analyst', 'dan@partner.example', { employee_number: 'E-1001' }),
      ),
      mint('dan-unverified', partner, 'dan-unverified', {
        ...lead('Dan U.', undefined),
        email: 'dan.analyst@clinic.example',
        email_verified: false,
      }),
      mint('eve', partner, 'eve', {
        name: 'Eve Unverified',
        email: 'eve@partner.example',
        email_verified: false,
        groups: ['analysts'],
      }),
      mint('carol', hospital, 'carol', lead('Carol Lead', 'carol.lead@clinic.example')),
      mint('carol@partner', partner, 'c.lead', lead('Carol L.', 'Carol.Lead@clinic.example')),
      mint('carol-2', hospital, 'carol-2', lead('Carol Lead', 'carol.lead+oncall@clinic.example')),
      mint('chris', hospital, 'chris', lead('Chris Lead', 'chris.lead@clinic.example')),
      mint('olivia', hospital, 'olivia', {
        name: 'Olivia Oncall',
        email: 'olivia.oncall@clinic.example',
        email_verified: true,
        groups: ['oncall'],
        amr: ['pwd', 'otp'],
      }),
      mint('olivia@partner', partner, 'o.oncall', {
        name: 'Olivia O.',
        email: 'Olivia.Oncall@clinic.example',
        email_verified: true,
        groups: ['privacy-office'],
      }),
      mint('priya', hospital, 'priya', {
        name: 'Priya Privacy',
        email: 'priya.privacy@clinic.example',
        email_verified: true,
        groups: ['privacy-office'],
      }),
    ]);
  });
  after(async () => {
    await server.stop();
    await Promise.all([hospital.close(), partner.close()]);
  });

  describe('approve', () => {
    it('refuses the requester’s account at another issuer sharing his verified e-mail, and records why', async () => {
      const id = await ask('dan', 'analyst');
      const self = await call('dan@partner', 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(self.status, 403);
      assert.equal(self.body['code'], 'approval.self');
      assert.deepEqual(self.body['linkedBy'], ['email']);
      assert.equal(await statusOf(id), 'pending', 'nothing was granted');

      const approved = await call('carol', 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(approved.status, 200);
      assert.equal(approved.body['status'], 'active');

      const audit = await auditOf(id);
      const refused = audit.find((e) => e.reason_code === 'approval.self')!;
      assert.equal(refused.outcome, 'refused');
      assert.equal(refused.actor_id, `${partner.issuer}#d.analyst`);
      assert.deepEqual((refused.detail['person'] as { linkedBy: string[] }).linkedBy, ['email']);
      const approval = audit.find((e) => e.action === 'request.approve' && e.outcome === 'success')!;
      const person = approval.detail['person'] as { keys: string[]; requesterKeys: string[] };
      assert.deepEqual(
        person.keys.map((k) => k.replace(/pk_.*/, '')),
        ['email:'],
        'the approver’s keys, as tokens',
      );
      assert.deepEqual(
        person.requesterKeys.map((k) => k.replace(/pk_.*/, '')),
        ['email:', 'claim:employee_number:'],
      );
      assert.ok(!person.keys.some((k) => person.requesterKeys.includes(k)), 'distinct people');
    });

    it('refuses a second account of the requester at the same issuer', async () => {
      const id = await ask('dan', 'analyst');
      const self = await call('dan-admin', 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(self.status, 403);
      assert.equal(self.body['code'], 'approval.self');
      assert.equal(await statusOf(id), 'pending');
      const deny = await call('dan-admin', 'POST', `/v1/requests/${id}/deny`, {});
      assert.equal(
        deny.body['code'],
        'approval.self',
        'nor deny it: a verdict on one’s own request is no verdict',
      );
    });

    it('links by a configured person claim across issuers, whatever the e-mails say', async () => {
      const id = await ask('dan', 'analyst');
      const self = await call('dan#employee', 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(self.status, 403);
      assert.equal(self.body['code'], 'approval.self');
      assert.deepEqual(self.body['linkedBy'], ['claim:employee_number']);
      assert.equal(await statusOf(id), 'pending');
    });

    it('cannot link an unverified e-mail (the documented limit), and requirePerson refuses such an approver', async () => {
      const loose = await ask('dan', 'analyst');
      const approved = await call('dan-unverified', 'POST', `/v1/requests/${loose}/approve`, {});
      assert.equal(
        approved.status,
        200,
        'an unverified address is whatever its user typed: it links nothing',
      );

      const strict = await ask('dan', 'audited');
      const unknown = await call('dan-unverified', 'POST', `/v1/requests/${strict}/approve`, {});
      assert.equal(unknown.status, 403);
      assert.equal(unknown.body['code'], 'approval.person-unknown');
      assert.equal(await statusOf(strict), 'pending');
      const known = await call('carol', 'POST', `/v1/requests/${strict}/approve`, {});
      assert.equal(known.body['status'], 'active');

      // And the requester must be someone it can link too, or their own keyless account could approve.
      const stranger = await call('eve', 'POST', '/v1/requests', {
        resource: 'clinic-db',
        role: 'audited',
        duration: '30m',
        purpose: 'HOPERAT',
        justification: 'Readmission analysis for the quality board',
      });
      assert.equal(stranger.status, 403);
      assert.equal(stranger.body['code'], 'person.unknown');
    });

    it('does not show the request to the requester’s other accounts as one they may approve', async () => {
      const id = await ask('dan', 'analyst');
      const theirs = await call('dan@partner', 'GET', '/v1/requests?scope=approvable');
      assert.ok(!(theirs.body['items'] as { id: string }[]).some((r) => r.id === id));
      assert.equal((await call('dan@partner', 'GET', `/v1/requests/${id}`)).status, 404);
      const carols = await call('carol', 'GET', '/v1/requests?scope=approvable');
      assert.ok((carols.body['items'] as { id: string }[]).some((r) => r.id === id));
    });
  });

  describe('a two-person quorum', () => {
    for (const [second, how] of [
      ['carol@partner', 'her account at the other issuer'],
      ['carol-2', 'her second account at the same issuer'],
    ] as const) {
      it(`is not met by one approver and ${how}`, async () => {
        const id = await ask('dan', 'chart');
        assert.equal(
          (await call('carol', 'POST', `/v1/requests/${id}/approve`, {})).body['status'],
          'pending',
        );
        const again = await call(second, 'POST', `/v1/requests/${id}/approve`, {});
        assert.equal(again.status, 403);
        assert.equal(again.body['code'], 'approval.same-person');
        assert.deepEqual(again.body['linkedBy'], ['email']);
        assert.equal(await statusOf(id), 'pending', 'one human filled one slot');

        const done = await call('chris', 'POST', `/v1/requests/${id}/approve`, {});
        assert.equal(done.body['status'], 'active');
        const approvals = done.body['approvals'] as { approverId: string; approverName: string }[];
        assert.deepEqual(
          approvals.map((a) => a.approverId),
          [`${hospital.issuer}#carol`, `${hospital.issuer}#chris`],
          'each approver listed once, with the account that approved',
        );
        const activation = (await auditOf(id)).find((e) => e.action === 'grant.activate')!;
        const who = (JSON.parse(activation.canonical) as { who: { approvers: string[] } }).who;
        assert.deepEqual(who.approvers, [`${hospital.issuer}#carol`, `${hospital.issuer}#chris`]);
        const refusal = (await auditOf(id)).find((e) => e.reason_code === 'approval.same-person')!;
        assert.equal(refusal.detail['linkedTo'], `${hospital.issuer}#carol`);
      });
    }
  });

  describe('break-glass review', () => {
    it('is never closed by the person who broke the glass, under any account; an auditor closes it once', async () => {
      const glass = await call('olivia', 'POST', '/v1/requests', {
        resource: 'clinic-db',
        role: 'breakglass',
        duration: '30m',
        purpose: 'ETREAT',
        justification: 'Unconscious patient in the emergency department',
      });
      assert.equal(glass.body['status'], 'active');
      const id = String(glass.body['id']);
      const review = (who: string, body: unknown = { outcome: 'appropriate', notes: 'checked the chart' }) =>
        call(who, 'POST', `/v1/grants/${id}/review`, body);

      const linked = await review('olivia@partner');
      assert.equal(linked.status, 403, 'her auditor account at the other issuer is still her');
      assert.equal(linked.body['code'], 'review.self');
      assert.deepEqual(linked.body['linkedBy'], ['email']);
      const own = await review('olivia');
      assert.equal(own.status, 403);
      assert.equal(own.body['code'], 'review.self');
      assert.equal((await review('carol')).status, 404, 'not an auditor: not theirs to see');
      const open = await phigate.store.db
        .selectFrom('review_items')
        .select(['status', 'closed_by'])
        .where('request_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(open, { status: 'open', closed_by: null }, 'refusals change nothing');

      assert.equal((await review('priya', { outcome: 'maybe' })).status, 400);
      const closed = await review('priya');
      assert.equal(closed.status, 200);
      const item = await phigate.store.db
        .selectFrom('review_items')
        .select(['status', 'closed_by', 'outcome', 'notes'])
        .where('request_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(item, {
        status: 'closed',
        closed_by: `${hospital.issuer}#priya`,
        outcome: 'appropriate',
        notes: 'checked the chart',
      });
      const twice = await review('priya');
      assert.equal(twice.status, 409);
      assert.equal(twice.body['code'], 'review.not-open');

      const ordinary = await ask('dan', 'analyst');
      const notAuditor = await call('carol', 'POST', `/v1/grants/${ordinary}/review`, {
        outcome: 'appropriate',
      });
      assert.equal(notAuditor.status, 403, 'an approver sees the request, but reviews are for auditors');
      assert.equal(notAuditor.body['code'], 'review.forbidden');
      const notGlass = await call('priya', 'POST', `/v1/grants/${ordinary}/review`, {
        outcome: 'appropriate',
      });
      assert.equal(notGlass.status, 409);
      assert.equal(notGlass.body['code'], 'review.not-open');

      const audit = await auditOf(id);
      assert.deepEqual(
        audit.filter((e) => e.action === 'review.close').map((e) => [e.outcome, e.reason_code]),
        [
          ['refused', 'review.self'],
          ['refused', 'review.self'],
          ['refused', 'request.not-found'],
          ['success', null],
          ['refused', 'review.not-open'],
        ],
      );
    });
  });

  it('keeps e-mail addresses out of the audit log and stores person keys only as tokens', async () => {
    const events = await sql<{ canonical: string }>`select canonical from audit_events`.execute(
      phigate.store.db,
    );
    assert.ok(events.rows.length > 10);
    for (const e of events.rows)
      assert.doesNotMatch(e.canonical, /@clinic\.example|@partner\.example|E-1001/i);
    const stored = await sql<{ keys: string[] }>`
      select requester_person_keys as keys from access_requests
      union all select approver_person_keys from approvals`.execute(phigate.store.db);
    const keys = stored.rows.flatMap((r) => r.keys);
    assert.ok(keys.length > 0);
    for (const k of keys) assert.match(k, /^(email|claim:employee_number):pk_[A-Za-z0-9_-]{22}$/);
  });
});
