/**
 * The whole lifecycle on real PostgreSQL with two replicas (service + scheduler + bus each) on one store: grants
 * expire on time and exactly once, pending requests time out, idempotency keys replay, refusals are recorded, the
 * chain cap holds at activation, approvals race, lists page and scope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { systemClock } from '../lib/clock.js';
import type { PhigateError } from '../lib/errors.js';
import { createAccessService } from './access-service.js';
import { createGrantEventBus, type GrantEventBusHandle } from './event-bus.js';
import { createExpiryScheduler, type ExpiryScheduler } from './expiry-scheduler.js';
import { createPolicyRegistry } from './policy-registry.js';
import { scopeHash } from './scope-hash.js';
import type { AccessService, GrantEvent, NewRequest } from './types.js';
import { person, refusal, until, silentLogger, testPseudonymizer } from '../../test/support/helpers.js';

const POLICY = `
version: 1
settings: { pendingTimeout: 2s }
administrators: { groups: [admins] }
auditors: { groups: [privacy] }
resources: { db: { kind: postgres } }
approvalRules:
  lead: { approvers: { groups: [leads], count: 1, requireMfa: false } }
  two-leads: { approvers: { groups: [leads], count: 2, requireMfa: false } }
  auto: { autoApprove: [ { groups: [support] } ], approvers: { groups: [leads] } }
roles:
  short:
    resource: db
    eligibleGroups: [support]
    duration: { default: 1s, max: 5s }
    purposes: [HOPERAT]
    approval: auto
  review:
    resource: db
    eligibleGroups: [analysts]
    duration: { default: 1s, max: 4h }
    purposes: [HOPERAT]
    patientScope: optional
    approval: lead
  chart:
    resource: db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h }
    purposes: [TREAT]
    patientScope: required
    approval: two-leads
  ext:
    resource: db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 45m, cumulativeMax: 1h }
    purposes: [HOPERAT]
    approval: lead
`;

const dan = person('dan', ['analysts']);
const eve = person('eve', ['analysts']);
const carol = person('carol', ['leads']);
const chris = person('chris', ['leads']);
const lee = person('lee', ['leads']);
const alice = person('alice', ['support']);
const paula = person('paula', ['privacy']);

const review: NewRequest = {
  resource: 'db',
  role: 'review',
  duration: '1s',
  purpose: 'HOPERAT',
  justification: 'Quality review of encounter 42',
};
const short: NewRequest = { ...review, role: 'short' };

describe('access lifecycle with two replicas on one store', () => {
  let db: TestDatabase;
  const buses: GrantEventBusHandle[] = [];
  const schedulers: ExpiryScheduler[] = [];
  let one: AccessService;
  let two: AccessService;
  /** Every event replica 1 hears: its own in-process, replica 2's over NOTIFY. */
  const heard: { event: GrantEvent; at: number }[] = [];

  before(async () => {
    db = await createTestDatabase();
    const replica = async (id: string): Promise<AccessService> => {
      const bus = createGrantEventBus({ pool: db.pool, replicaId: id, logger: silentLogger });
      await bus.ready();
      const policies = createPolicyRegistry({ db: db.db, logger: silentLogger });
      assert.ok((await policies.load(POLICY, 'policy.yaml')).ok);
      const access = createAccessService({
        pseudonymizer: testPseudonymizer,
        db: db.db,
        policies,
        clock: systemClock,
        bus,
        logger: silentLogger,
        replicaId: id,
      });
      const scheduler = createExpiryScheduler({
        pseudonymizer: testPseudonymizer,
        db: db.db,
        bus,
        clock: systemClock,
        logger: silentLogger,
        sweepIntervalMs: 200,
      });
      await scheduler.start();
      buses.push(bus);
      schedulers.push(scheduler);
      return access;
    };
    one = await replica('replica-1');
    two = await replica('replica-2');
    buses[0]!.subscribe((event) => heard.push({ event, at: Date.now() }));
  });
  after(async () => {
    for (const s of schedulers) await s.stop();
    for (const b of buses) await b.close();
    await db.drop();
  });

  const status = async (id: string): Promise<string> =>
    (
      await db.db
        .selectFrom('access_requests')
        .select('status')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).status;
  const audit = async (id: string, action: string, outcome = 'success'): Promise<number> =>
    Number(
      (
        await db.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('request_id', '=', id)
          .where('action', '=', action)
          .where('outcome', '=', outcome as 'success')
          .executeTakeFirstOrThrow()
      ).n,
    );
  const refusedCreates = async (): Promise<number> =>
    Number(
      (
        await db.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('action', '=', 'request.create')
          .where('outcome', '=', 'refused')
          .executeTakeFirstOrThrow()
      ).n,
    );
  const rows = async (): Promise<number> =>
    Number(
      (
        await db.db
          .selectFrom('access_requests')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('ends grants on time, each exactly once, whichever replica activated them', async () => {
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? one : two).createRequest(alice, short)),
    );
    const ids = created.map((c) => c.request.id);
    for (const c of created) {
      assert.equal(c.request.status, 'active');
      assert.equal(c.request.expiresAt!.getTime() - c.request.activatedAt!.getTime(), 1_000);
    }
    const expiredHeard = (id: string) =>
      heard.filter((h) => h.event.type === 'grant.expired' && h.event.grantId === id);
    await until(() => ids.every((id) => expiredHeard(id).length > 0), 'every expiry', 8_000);
    await sleep(300);
    for (const c of created) {
      const heardOnce = expiredHeard(c.request.id);
      assert.equal(heardOnce.length, 1, 'announced once');
      const late = heardOnce[0]!.at - c.request.expiresAt!.getTime();
      assert.ok(late >= 0 && late < 500, `expired ${late} ms after expires_at`);
      assert.equal(await status(c.request.id), 'expired');
      assert.equal(await audit(c.request.id, 'grant.expire'), 1, 'recorded once');
    }
  });

  it('starts the clock at approval, not at request', async () => {
    const { request } = await one.createRequest(dan, review);
    await sleep(300);
    const { request: active } = await two.approve(carol, request.id);
    assert.ok(active.activatedAt!.getTime() - request.createdAt.getTime() >= 300);
    assert.equal(active.expiresAt!.getTime() - active.activatedAt!.getTime(), 1_000);
    await until(async () => (await status(request.id)) === 'expired', 'the expiry', 8_000);
  });

  it('times out a pending request nobody approved, then refuses late approvals (and records them)', async () => {
    const { request } = await one.createRequest(dan, { ...review, duration: '1h' });
    assert.equal(request.pendingUntil!.getTime() - request.createdAt.getTime(), 2_000);
    await until(async () => (await status(request.id)) === 'timed-out', 'the time-out', 6_000);
    assert.equal(await audit(request.id, 'request.timeout'), 1);
    const late = await refusal(two.approve(carol, request.id));
    assert.equal(late.code, 'request.not-pending');
    assert.equal(late.kind, 'conflict');
    assert.equal(await audit(request.id, 'request.approve', 'refused'), 1);
  });

  it('replays an idempotency key, refuses its reuse for another body, and keeps keys per person (ATTACKS 21)', async () => {
    const before = await rows();
    const first = await one.createRequest(dan, { ...review, duration: '1h' }, { idempotencyKey: 'create-1' });
    const again = await two.createRequest(dan, { ...review, duration: '1h' }, { idempotencyKey: 'create-1' });
    assert.equal(first.replayed, false);
    assert.equal(again.replayed, true);
    assert.deepEqual(again.request, first.request);
    const reused = await refusal(
      one.createRequest(dan, { ...review, duration: '2h' }, { idempotencyKey: 'create-1' }),
    );
    assert.equal(reused.code, 'idempotency.key-reused');
    const eves = await one.createRequest(eve, { ...review, duration: '1h' }, { idempotencyKey: 'create-1' });
    assert.equal(eves.replayed, false);
    assert.notEqual(eves.request.id, first.request.id);
    assert.equal(await rows(), before + 2);
  });

  it('gives one answer to the same key sent at once on several connections', async () => {
    const before = await rows();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? one : two).createRequest(dan, { ...review, duration: '1h' }, { idempotencyKey: 'burst-1' }),
      ),
    );
    assert.equal(new Set(results.map((r) => r.request.id)).size, 1);
    assert.equal(results.filter((r) => !r.replayed).length, 1);
    assert.equal(await rows(), before + 1);
  });

  it('replays a refusal under its key, and refuses a second approve of a closed request (ATTACKS 21)', async () => {
    const { request } = await one.createRequest(dan, { ...review, duration: '1h' });
    await one.approve(carol, request.id);
    const first = await refusal(two.approve(chris, request.id, undefined, { idempotencyKey: 'late' }));
    const replay = await refusal(one.approve(chris, request.id, undefined, { idempotencyKey: 'late' }));
    assert.equal(first.code, 'request.not-pending');
    assert.equal(replay.code, 'request.not-pending');
    assert.equal(replay.details['replayed'], true);
    assert.equal(await audit(request.id, 'grant.activate'), 1, 'nothing activated twice');
  });

  it('never takes status, times or the requester from input (ATTACKS 9), and records the attempt', async () => {
    const before = await rows();
    const refused = await refusedCreates();
    const sneaky = {
      ...review,
      status: 'active',
      expiresAt: '2999-01-01T00:00:00Z',
      requester: carol.id,
    } as unknown as NewRequest;
    assert.equal((await refusal(one.createRequest(dan, sneaky))).code, 'request.unknown-field');
    assert.equal(await rows(), before);
    assert.equal(await refusedCreates(), refused + 1);
  });

  it('refuses bad durations and wildcard patient scopes with the limit named, each attempt recorded (ATTACKS 17)', async () => {
    const before = await rows();
    const refused = await refusedCreates();
    const over = await refusal(one.createRequest(dan, { ...review, duration: '5h' }));
    assert.equal(over.code, 'duration.over-max');
    assert.equal(over.details['limitMs'], 4 * 3_600_000);
    for (const duration of ['-5m', '0m', 'P9999Y', 'soon']) {
      assert.equal((await refusal(one.createRequest(dan, { ...review, duration }))).code, 'duration.invalid');
    }
    for (const patientIds of [['*'], ['%'], ['all']]) {
      assert.equal(
        (await refusal(one.createRequest(dan, { ...review, patientIds }))).code,
        'patients.invalid',
      );
    }
    assert.equal(await rows(), before, 'nothing stored');
    assert.equal(await refusedCreates(), refused + 8);
  });

  it('re-checks the cumulative cap at activation: two pending extensions cannot both activate (ATTACKS 20)', async () => {
    const ext: NewRequest = { ...review, role: 'ext', duration: '45m' };
    const a = await one.createRequest(eve, ext);
    const b = await one.createRequest(eve, ext);
    assert.equal((await two.approve(carol, a.request.id)).request.status, 'active');
    const err = await refusal(two.approve(carol, b.request.id));
    assert.equal(err.code, 'duration.chain-over-max');
    assert.equal(err.details['limitMs'], 3_600_000);
    assert.equal(await status(b.request.id), 'pending');
    await one.revoke(eve, a.request.id, 'done early');
  });

  it('lets exactly one of two racing approvals activate a one-approver request (ATTACKS 15)', async () => {
    for (let round = 0; round < 10; round++) {
      const { request } = await one.createRequest(dan, { ...review, duration: '1h' });
      const outcomes = await Promise.allSettled([
        one.approve(carol, request.id),
        two.approve(chris, request.id),
      ]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}`);
      assert.equal((lost[0]!.reason as PhigateError).code, 'request.not-pending');
      assert.equal(await audit(request.id, 'grant.activate'), 1);
      assert.equal(
        Number(
          (
            await db.db
              .selectFrom('approvals')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('request_id', '=', request.id)
              .executeTakeFirstOrThrow()
          ).n,
        ),
        1,
      );
    }
  });

  it('voids earlier approvals when the scope is rewritten together with its hash (ATTACKS 14)', async () => {
    const { request } = await one.createRequest(dan, {
      ...review,
      role: 'chart',
      purpose: 'TREAT',
      patientIds: ['MRN-1'],
    });
    await one.approve(carol, request.id);
    const wider = ['MRN-1', 'MRN-2'];
    const forgedHash = scopeHash({
      requesterId: dan.id,
      resource: 'db',
      role: 'chart',
      durationMs: request.durationMs,
      purpose: 'TREAT',
      patientIds: wider,
      ticket: undefined,
    });
    await sql`update access_requests set patient_ids = ${JSON.stringify(wider)}::jsonb, scope_hash = ${forgedHash}
              where id = ${request.id}::uuid`.execute(db.db);
    // Carol's approval was for one patient: with Chris's alone the two-approver rule is not met.
    const afterChris = await two.approve(chris, request.id);
    assert.equal(afterChris.request.status, 'pending');
    assert.deepEqual(
      afterChris.request.approvals.map((a) => [a.approverId, a.valid]),
      [
        [carol.id, false],
        [chris.id, true],
      ],
    );
    assert.equal((await one.approve(lee, request.id)).request.status, 'active');
    // The activation names the approvals that counted, with display names for reports (issue 14).
    const activation = await db.db
      .selectFrom('audit_events')
      .select('canonical')
      .where('request_id', '=', request.id)
      .where('action', '=', 'grant.activate')
      .executeTakeFirstOrThrow();
    const who = (
      JSON.parse(activation.canonical) as { who: { approvers: string[]; approverNames: string[] } }
    ).who;
    assert.deepEqual(who.approvers, [chris.id, lee.id]);
    assert.deepEqual(who.approverNames, [chris.displayName, lee.displayName]);
  });

  it('pages and scopes lists: mine, approvable, all (auditors only), grants', async () => {
    const mine = new Set<string>();
    for (let i = 0; i < 5; i++)
      mine.add((await one.createRequest(eve, { ...review, duration: '1h' })).request.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await two.listRequests(eve, { limit: 2, ...(cursor ? { cursor } : {}) });
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    assert.equal(new Set(seen).size, seen.length, 'no duplicates across pages');
    for (const id of mine) assert.ok(seen.includes(id));
    assert.ok((await one.listRequests(eve)).items.every((r) => r.requester.id === eve.id));

    const approvable = await one.listRequests(carol, { scope: 'approvable', limit: 200 });
    assert.ok(approvable.items.every((r) => r.status === 'pending' && r.requester.id !== carol.id));
    for (const id of mine) assert.ok(approvable.items.some((r) => r.id === id));
    assert.equal((await one.listRequests(alice, { scope: 'approvable' })).items.length, 0);

    assert.equal((await refusal(one.listRequests(eve, { scope: 'all' }))).code, 'list.scope-forbidden');
    const all = await one.listRequests(paula, { scope: 'all', limit: 200 });
    assert.ok(
      all.items.some((r) => r.requester.id === dan.id) && all.items.some((r) => r.requester.id === eve.id),
    );
    assert.equal((await one.getRequest(paula, [...mine][0]!)).requester.id, eve.id);

    const grants = await one.listGrants(alice, { limit: 200 });
    assert.ok(grants.items.length > 0);
    assert.ok(grants.items.every((g) => ['active', 'expired', 'revoked'].includes(g.status)));
    assert.equal((await refusal(one.listRequests(eve, { cursor: 'garbage!' }))).code, 'cursor.invalid');
  });

  it('lets only the requester cancel, and only while pending', async () => {
    const { request } = await one.createRequest(dan, { ...review, duration: '1h' });
    assert.equal((await refusal(two.cancel(carol, request.id))).code, 'request.not-requester');
    assert.equal((await refusal(two.cancel(eve, request.id))).kind, 'not-found');
    await one.approve(carol, request.id);
    assert.equal((await refusal(one.cancel(dan, request.id))).code, 'request.not-pending');
  });

  it('lets an approver of the request revoke it, once; other requesters do not even see it', async () => {
    const { request } = await one.createRequest(dan, { ...review, duration: '1h' });
    await one.approve(carol, request.id);
    assert.equal((await refusal(two.revoke(eve, request.id))).kind, 'not-found');
    const revoked = await two.revoke(chris, request.id, 'no longer needed');
    assert.equal(revoked.request.status, 'revoked');
    assert.equal(revoked.request.endedBy, chris.id);
    assert.equal(revoked.request.endReason, 'no longer needed');
    assert.equal((await refusal(one.revoke(dan, request.id))).code, 'grant.not-active');
    await until(
      () => heard.some((h) => h.event.type === 'grant.revoked' && h.event.grantId === request.id),
      'revoked',
      8_000,
    );
  });
});
