/**
 * Every (status, event) pair through the lifecycle on real PostgreSQL: the state machine's allowed ones change the
 * row to their target status (an approval that does not activate leaves it pending), every other one changes
 * nothing at all — not a column, not an audit event, not a grant event.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { testPseudonymizer } from '../../test/support/helpers.js';
import type { Database } from '../store/schema.js';
import type { Transaction } from 'kysely';
import { findRequest } from '../store/access-request-repository.js';
import { createAccessAudit } from './access-audit.js';
import type { AccessRequest } from './grant.js';
import { createGrantLifecycle, type RequestDraft, type StatusChange } from './lifecycle.js';
import { LIFECYCLE_EVENTS, REQUEST_STATUSES, transition, type LifecycleEvent } from './state-machine.js';
import { SYSTEM, person } from './status-change.js';
import type { GrantEvent, RequestStatus } from './types.js';

const POLICY = 'e'.repeat(64);
const HOUR = 3_600_000;

function draft(): RequestDraft {
  return {
    id: randomUUID(),
    requesterId: 'iss#dan',
    requester: { id: 'iss#dan', displayName: 'Dan', groups: ['analysts'], mfa: true },
    requesterPersonKeys: [],
    resource: 'ehr',
    role: 'analyst',
    durationMs: HOUR,
    purpose: 'HOPERAT',
    justification: 'test',
    ticket: undefined,
    patientIds: [],
    patientsFound: undefined,
    scopeHash: 'x',
    policyHash: POLICY,
    decision: { outcome: 'needs-approval', reasons: [] },
    emergency: false,
    createdAt: new Date(),
  };
}

/** What a change records and announces, by name. */
function said(change: StatusChange | undefined): { audit: string[]; publish: string[] } | undefined {
  if (change === undefined) return undefined;
  return { audit: change.audit.map((e) => e.action), publish: change.publish.map((e) => e.type) };
}

describe('grant lifecycle on real PostgreSQL', () => {
  let db: TestDatabase;
  const announced: GrantEvent[] = [];
  const lifecycle = createGrantLifecycle({
    audit: createAccessAudit(testPseudonymizer),
    bus: {
      announce: (_tx, events) => {
        announced.push(...events);
        return Promise.resolve(() => undefined);
      },
    },
  });

  before(async () => {
    db = await createTestDatabase();
    // The requests name a policy version; the lifecycle never reads it.
    await db.db
      .insertInto('policy_versions')
      .values({ hash: POLICY, source_name: 't', source: 't' })
      .execute();
  });
  after(() => db.drop());

  const inTx = <T>(work: (tx: Transaction<Database>) => Promise<T>): Promise<T> =>
    db.db.transaction().execute(work);

  /** A request in `status`, got there the lifecycle's way (created, then activated and ended as needed). */
  async function requestIn(status: RequestStatus, now: Date): Promise<AccessRequest> {
    return inTx(async (tx) => {
      const active = status === 'active' || status === 'expired' || status === 'revoked';
      const { request } = await lifecycle.create(tx, draft(), {
        active,
        pendingTimeoutMs: HOUR,
        now,
        by: person('iss#dan'),
      });
      const next: Partial<Record<RequestStatus, LifecycleEvent>> = {
        expired: 'expire',
        revoked: 'revoke',
        denied: 'deny',
        cancelled: 'cancel',
        'timed-out': 'time-out',
      };
      const event = next[status];
      if (event === undefined) return request;
      const changed = await lifecycle.change(tx, request, event, { now, by: SYSTEM });
      assert.ok(changed, `could not bring a request to ${status}`);
      return changed.request;
    });
  }

  const auditCount = async (id: string): Promise<number> => {
    const r = await db.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('request_id', '=', id)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  };

  it('changes a row for exactly the pairs the state machine allows', async () => {
    let allowed = 0;
    let refused = 0;
    for (const status of REQUEST_STATUSES) {
      for (const event of LIFECYCLE_EVENTS) {
        const now = new Date();
        const before = await requestIn(status, now);
        const audited = await auditCount(before.id);
        const published = announced.length;
        const change = await inTx(async (tx) => {
          const c = await lifecycle.change(tx, before, event, { now, by: person('iss#carol') });
          if (c !== undefined) await lifecycle.record(tx, [c], now);
          return c;
        });
        const after = await findRequest(db.db, before.id);
        const t = transition(status, event);
        const pair = `${status} --${event}-->`;
        if (t.ok) {
          allowed++;
          assert.ok(change, `${pair} is allowed: it must apply`);
          assert.equal(after?.status, t.to, pair);
          assert.deepEqual(change.request, after, `${pair}: the change returns the row as stored`);
        } else {
          refused++;
          assert.equal(change, undefined, `${pair} is not allowed: it must not apply`);
          assert.deepEqual(after, before, `${pair}: the row is untouched`);
          assert.equal(await auditCount(before.id), audited, `${pair}: nothing audited`);
          assert.equal(announced.length, published, `${pair}: nothing announced`);
        }
      }
    }
    assert.equal(allowed + refused, REQUEST_STATUSES.length * LIFECYCLE_EVENTS.length);
    assert.equal(allowed, 7);
  });

  it('announces activations, expiries and revocations, and audits each with its own action', async () => {
    const now = new Date();
    const pending = await requestIn('pending', now);
    const activated = await inTx((tx) =>
      lifecycle.change(tx, pending, 'activate', { now, by: person('iss#carol') }),
    );
    assert.deepEqual(said(activated), { audit: ['grant.activate'], publish: ['grant.activated'] });
    assert.equal(activated?.request.expiresAt?.getTime(), now.getTime() + HOUR);
    const revoked = await inTx((tx) =>
      lifecycle.revokeBySystem(tx, pending.id, 'care-relation-ended', now, { authority: 'test' }),
    );
    assert.equal(revoked?.request.endReason, 'care-relation-ended');
    assert.equal(revoked?.request.endedBy, 'system');
    assert.deepEqual(said(revoked), { audit: ['grant.revoke'], publish: ['grant.revoked'] });
  });

  it('never revokes a grant whose time is up: that is the expiry’s', async () => {
    const then = new Date(Date.now() - 2 * HOUR);
    const grant = await requestIn('active', then);
    const revoked = await inTx((tx) =>
      lifecycle.revokeBySystem(tx, grant.id, 'eligibility-lost', new Date(), {}),
    );
    assert.equal(revoked, undefined);
    assert.equal((await findRequest(db.db, grant.id))?.status, 'active');
    const expired = await inTx((tx) =>
      lifecycle.closeDue(tx, 'expire', { now: new Date(), ids: [grant.id], limit: 10 }),
    );
    assert.deepEqual(
      expired.map((c) => [c.request.id, c.request.status, c.request.endReason]),
      [[grant.id, 'expired', 'expired']],
    );
  });

  it('closes only due rows in the status an event needs', async () => {
    const now = new Date();
    const all = await Promise.all(
      REQUEST_STATUSES.map((s) => requestIn(s, new Date(now.getTime() - 2 * HOUR))),
    );
    const ids = all.map((r) => r.id);
    const later = new Date(now.getTime() + 1);
    const expired = await inTx((tx) => lifecycle.closeDue(tx, 'expire', { now: later, ids, limit: 100 }));
    const timedOut = await inTx((tx) => lifecycle.closeDue(tx, 'time-out', { now: later, ids, limit: 100 }));
    assert.deepEqual(
      expired.map((c) => c.request.id),
      [all[REQUEST_STATUSES.indexOf('active')]!.id],
    );
    assert.deepEqual(
      timedOut.map((c) => c.request.id),
      [all[REQUEST_STATUSES.indexOf('pending')]!.id],
    );
    assert.equal(timedOut[0]?.request.status, 'timed-out');
    assert.deepEqual(said(timedOut[0]), { audit: ['request.timeout'], publish: [] });
  });
});
