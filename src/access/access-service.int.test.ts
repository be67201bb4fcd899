/**
 * The access service on real PostgreSQL: lifecycle, separation of duties, approvals bound to the scope and to both
 * policy versions, races, chained extensions, break-glass, and failing closed when the audit log cannot be written.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestDatabase, testTargets, type TestDatabase } from '../../test/support/database.js';
import { systemClock } from '../lib/clock.js';
import { createAccessService } from './access-service.js';
import { createGrantEventBus, type GrantEventBusHandle } from './event-bus.js';
import { createPolicyRegistry, type PolicyRegistry } from './policy-registry.js';
import type { AccessService, GrantEvent, NewRequest } from './types.js';
import { person, refusal, silentLogger, testPseudonymizer } from '../../test/support/helpers.js';

const POLICY = `
version: 1
administrators: { groups: [admins] }
auditors: { groups: [privacy] }
resources: { db: { kind: postgres } }
approvalRules:
  one-lead: { approvers: { groups: [leads], count: 1, requireMfa: true } }
  two-leads: { approvers: { groups: [leads], count: 2, requireMfa: false } }
  auto: { autoApprove: [ { groups: [support] } ], approvers: { groups: [leads] } }
roles:
  review:
    resource: db
    eligibleGroups: [analysts, leads]
    duration: { default: 30m, max: 4h }
    purposes: [HOPERAT]
    patientScope: optional
    approval: one-lead
  chart:
    resource: db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h }
    purposes: [TREAT]
    patientScope: required
    approval: two-leads
  quick:
    resource: db
    eligibleGroups: [support]
    duration: { default: 1h, max: 1h, cumulativeMax: 90m }
    purposes: [HOPERAT]
    approval: auto
  glass:
    resource: db
    eligibleGroups: [oncall]
    duration: { default: 30m, max: 1h }
    purposes: [BTG, ETREAT]
    emergency: true
`;

const dan = person('dan', ['analysts']);
const carol = person('carol', ['leads']);
const chris = person('chris', ['leads']);
const lee = person('lee', ['leads']);
const alice = person('alice', ['support']);
const olivia = person('olivia', ['oncall']);
const adam = person('adam', ['admins']);

const review: NewRequest = {
  resource: 'db',
  role: 'review',
  duration: '30m',
  purpose: 'HOPERAT',
  justification: 'Quality review of encounter 42',
};
const chart: NewRequest = { ...review, role: 'chart', purpose: 'TREAT', patientIds: ['MRN-1'] };

// The service's contract holds on every PostgreSQL the suite has: the embedded one and the external one (CI).
for (const target of testTargets())
  describe(`access service on ${target.name} PostgreSQL`, () => {
    let db: TestDatabase;
    let bus: GrantEventBusHandle;
    let policies: PolicyRegistry;
    let access: AccessService;
    const events: GrantEvent[] = [];

    before(async () => {
      db = await createTestDatabase(target);
      bus = createGrantEventBus({ pool: db.pool, replicaId: 'test', logger: silentLogger });
      await bus.ready();
      bus.subscribe((e) => events.push(e));
    });
    beforeEach(async () => {
      policies = createPolicyRegistry({ db: db.db, logger: silentLogger });
      assert.ok((await policies.load(POLICY, 'policy.yaml')).ok);
      access = createAccessService({
        db: db.db,
        policies,
        clock: systemClock,
        bus,
        logger: silentLogger,
        pseudonymizer: testPseudonymizer,
      });
    });
    after(async () => {
      await bus.close();
      await db.drop();
    });

    const auditOf = async (requestId: string) =>
      db.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'reason_code'])
        .where('request_id', '=', requestId)
        .orderBy('seq')
        .execute();

    it('pending → approved by a lead → active, clock starting at activation, announced after commit', async () => {
      const { request } = await access.createRequest(dan, review);
      assert.equal(request.status, 'pending');
      const { request: active } = await access.approve(carol, request.id, 'ok');
      assert.equal(active.status, 'active');
      assert.equal(active.expiresAt!.getTime() - active.activatedAt!.getTime(), 30 * 60_000);
      assert.ok(events.some((e) => e.type === 'grant.activated' && e.grantId === request.id));
      assert.deepEqual(
        (await auditOf(request.id)).map((a) => a.action),
        ['request.create', 'request.approve', 'grant.activate'],
      );
    });

    it('never lets a requester approve their own request, even as a member of the approver group (ATTACKS 12)', async () => {
      const { request } = await access.createRequest(carol, review);
      const err = await refusal(access.approve(carol, request.id));
      assert.equal(err.code, 'approval.self');
      assert.equal((await access.getRequest(carol, request.id)).status, 'pending');
      assert.ok(
        (await auditOf(request.id)).some((a) => a.outcome === 'refused' && a.reason_code === 'approval.self'),
      );
    });

    it('counts one person once toward a two-approver rule (ATTACKS 12)', async () => {
      const { request } = await access.createRequest(dan, chart);
      await access.approve(carol, request.id);
      const twice = await refusal(access.approve(carol, request.id));
      assert.equal(twice.kind, 'conflict');
      assert.equal((await access.getRequest(dan, request.id)).status, 'pending');
      assert.equal((await access.approve(chris, request.id)).request.status, 'active');
    });

    it('links accounts recorded before phigate kept person keys through the e-mail their snapshot holds (ATTACKS 12)', async () => {
      const verified = (who: ReturnType<typeof person>, email: string) => ({
        ...who,
        email,
        emailVerified: true,
      });
      const danAtWork = verified(dan, 'dan@clinic.example');
      const danAsLead = verified(
        { ...person('dan-lead', ['leads']), id: 'https://other-idp.test#dan' },
        'DAN@clinic.example',
      );
      const carolAtWork = verified(carol, 'carol@clinic.example');
      const carolElsewhere = verified(
        { ...person('carol', ['leads']), id: 'https://other-idp.test#carol' },
        'carol+2@clinic.example',
      );
      const { request } = await access.createRequest(danAtWork, chart);
      await access.approve(carolAtWork, request.id);
      // As written by the version before person keys: NULL, with the e-mail in the snapshots only.
      await sql`update access_requests set requester_person_keys = null where id = ${request.id}::uuid`.execute(
        db.db,
      );
      await sql`update approvals set approver_person_keys = null where request_id = ${request.id}::uuid`.execute(
        db.db,
      );

      assert.equal((await refusal(access.approve(danAsLead, request.id))).code, 'approval.self');
      const again = await refusal(access.approve(carolElsewhere, request.id));
      assert.equal(again.code, 'approval.same-person');
      assert.deepEqual(again.details, { linkedBy: ['email'] });
      assert.equal((await access.getRequest(dan, request.id)).status, 'pending');
      assert.equal((await access.approve(chris, request.id)).request.status, 'active');
    });

    it('requires the approver’s MFA when the rule does (ATTACKS 7)', async () => {
      const { request } = await access.createRequest(dan, review);
      const err = await refusal(access.approve(person('carol', ['leads'], false), request.id));
      assert.equal(err.code, 'approval.mfa-required');
    });

    it('refuses approval of a request whose scope changed after an approval, voiding that approval (ATTACKS 14)', async () => {
      const { request } = await access.createRequest(dan, chart);
      await access.approve(carol, request.id);
      // Someone with database access widens the scope behind phigate's back.
      await sql`update access_requests set patient_ids = '["MRN-1","MRN-2"]' where id = ${request.id}::uuid`.execute(
        db.db,
      );
      // The request itself no longer matches what was asked for: nobody may approve it, and earlier approvals are void.
      assert.equal((await refusal(access.approve(chris, request.id))).code, 'request.scope-changed');
      const seen = await access.getRequest(dan, request.id);
      assert.equal(seen.status, 'pending');
      assert.ok(seen.approvals.some((a) => a.approverId === carol.id && !a.valid));
    });

    it('checks approvers under the decided policy and the policy in force: the stricter wins (ATTACKS 13)', async () => {
      const { request } = await access.createRequest(dan, review);
      // Newcomers are added to the approver groups after the request was decided.
      assert.ok(
        (
          await policies.load(
            POLICY.replace('groups: [leads], count: 1', 'groups: [leads, newcomers], count: 1'),
            'v2.yaml',
          )
        ).ok,
      );
      const err = await refusal(access.approve(person('nina', ['newcomers']), request.id));
      assert.ok(err.kind === 'not-found' || err.kind === 'forbidden', err.code);
      // And a lead removed from the approvers by the new policy can no longer approve either.
      assert.ok(
        (
          await policies.load(
            POLICY.replace('groups: [leads], count: 1', 'groups: [seniors], count: 1'),
            'v3.yaml',
          )
        ).ok,
      );
      assert.notEqual((await refusal(access.approve(carol, request.id))).code, undefined);
      assert.equal((await access.getRequest(dan, request.id)).status, 'pending');
    });

    it('lets exactly one of a racing approve and deny win, every time (ATTACKS 15)', async () => {
      for (let round = 0; round < 15; round++) {
        const { request } = await access.createRequest(dan, review);
        const outcomes = await Promise.allSettled([
          access.approve(carol, request.id),
          access.deny(chris, request.id),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        assert.equal(won.length, 1, `round ${round}`);
        const final = (await access.getRequest(dan, request.id)).status;
        assert.ok(final === 'active' || final === 'denied');
      }
    });

    it('refuses a second approval of a closed request and replays an idempotency key (ATTACKS 21)', async () => {
      const { request } = await access.createRequest(dan, review);
      const first = await access.approve(carol, request.id, undefined, { idempotencyKey: 'k-1' });
      const replay = await access.approve(carol, request.id, undefined, { idempotencyKey: 'k-1' });
      assert.equal(replay.replayed, true);
      assert.equal(replay.request.id, first.request.id);
      assert.equal((await refusal(access.approve(lee, request.id))).code, 'request.not-pending');
    });

    it('caps back-to-back grants at the role’s cumulative maximum (ATTACKS 20)', async () => {
      const quick = { ...review, role: 'quick', duration: '1h' };
      const first = await access.createRequest(alice, quick);
      assert.equal(first.request.status, 'active');
      const err = await refusal(access.createRequest(alice, { ...quick, duration: '45m' }));
      assert.equal(err.code, 'duration.chain-over-max');
      assert.equal(
        (await access.createRequest(alice, { ...quick, duration: '30m' })).request.status,
        'active',
      );
    });

    it('activates break-glass at once with an open review item and a critical alert', async () => {
      const { request } = await access.createRequest(olivia, { ...review, role: 'glass', purpose: 'BTG' });
      assert.equal(request.status, 'active');
      assert.equal(request.emergency, true);
      const review_ = await db.db
        .selectFrom('review_items')
        .selectAll()
        .where('request_id', '=', request.id)
        .execute();
      const alerts = await db.db
        .selectFrom('alert_events')
        .selectAll()
        .where('request_id', '=', request.id)
        .execute();
      assert.equal(review_[0]?.status, 'open');
      assert.equal(alerts[0]?.severity, 'critical');
    });

    it('hides requests from people who may not see them: 404, never 403 (ATTACKS 8)', async () => {
      const { request } = await access.createRequest(dan, review);
      for (const attempt of [
        () => access.getRequest(alice, request.id),
        () => access.approve(alice, request.id),
        () => access.cancel(alice, request.id),
        () => access.revoke(alice, request.id),
        () => access.getRequest(dan, '00000000-0000-4000-8000-000000000000'),
        () => access.getRequest(dan, "x' or 1=1 --"),
      ]) {
        assert.equal((await refusal(attempt())).kind, 'not-found');
      }
      assert.equal((await access.cancel(dan, request.id)).request.status, 'cancelled');
    });

    it('lets the grantee or an admin revoke, and nobody else', async () => {
      const a = await access.createRequest(alice, { ...review, role: 'quick', duration: '10m' });
      assert.equal((await refusal(access.revoke(dan, a.request.id))).kind, 'not-found');
      const revoked = await access.revoke(adam, a.request.id, 'incident response');
      assert.equal(revoked.request.status, 'revoked');
      assert.ok(events.some((e) => e.type === 'grant.revoked' && e.grantId === a.request.id));
    });

    it('fails closed: if the audit log cannot be written, no grant activates and nothing is stored (ATTACKS 37)', async () => {
      await sql`create function refuse_audit() returns trigger language plpgsql as $$
              begin raise exception 'audit storage unavailable'; end $$`.execute(db.db);
      await sql`create trigger refuse_audit before insert on audit_events for each row execute function refuse_audit()`.execute(
        db.db,
      );
      try {
        const before = await db.db
          .selectFrom('access_requests')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        const err = await refusal(access.createRequest(olivia, { ...review, role: 'glass', purpose: 'BTG' }));
        assert.equal(err.kind, 'unavailable');
        const after = await db.db
          .selectFrom('access_requests')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        assert.equal(Number(after.n), Number(before.n));
      } finally {
        await sql`drop trigger refuse_audit on audit_events`.execute(db.db);
        await sql`drop function refuse_audit()`.execute(db.db);
      }
    });
  });
