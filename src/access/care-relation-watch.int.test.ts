/**
 * The care-relation watch on a real store: a grant whose patient left the requester's care relation ends (revoked by
 * the system, audited, announced), one whose relation still holds or cannot be looked up stays, grants made without
 * a relation are not looked up, and two replicas end a grant once. The care team itself is a small in-memory table
 * behind the `CareRelations` port (its SQL is tested against PostgreSQL in src/provisioner/care-relation.int.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { CARE_ROUND_LOCK } from '../store/access-request-repository.js';
import { person, silentLogger, testPseudonymizer, until } from '../../test/support/helpers.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { createAccessService } from './access-service.js';
import { createCareRelationWatch } from './care-relation-watch.js';
import { createGrantEventBus, type GrantEventBusHandle } from './event-bus.js';
import { createPolicyRegistry, type PolicyRegistry } from './policy-registry.js';
import type { AccessService, CareRelations, GrantEvent } from './types.js';

const POLICY = `
version: 1
resources:
  ehr:
    kind: postgres
    phi:
      public.patients: { patientKey: mrn, columns: { mrn: mrn } }
      public.care_team: { patientKey: { column: patient_id, references: public.patients.id } }
approvalRules:
  auto: { autoApprove: [ { groups: [physicians, analysts] } ], approvers: { groups: [leads] } }
roles:
  attending:
    resource: ehr
    eligibleGroups: [physicians]
    access: { public.patients: { columns: [id, mrn] } }
    duration: { default: 1h, max: 8h }
    purposes: [TREAT]
    patientScope: optional
    careRelation: { table: public.care_team, requesterColumn: clinician, requesterIdentifier: id }
    approval: auto
  chart:
    resource: ehr
    eligibleGroups: [analysts]
    access: { public.patients: { columns: [id, mrn] } }
    duration: { default: 1h, max: 8h }
    purposes: [TREAT]
    patientScope: required
    approval: auto
`;

const olivia = person('olivia', ['physicians']);
const dan = person('dan', ['analysts']);

/** Who attends whom, by requester id; `down` makes every look-up fail as an unreachable database would. */
function careTeam() {
  const team = new Map<string, Set<string>>();
  const state = {
    down: false,
    lookups: 0,
    tables: new Set<string>(),
    /** Runs inside each look-up, as a slow database would. */
    during: (): Promise<void> => Promise.resolve(),
  };
  const relations: CareRelations = {
    async patientsOf(_resource, role, who, _at, limit, among) {
      state.lookups++;
      state.tables.add(role.careRelation!.table);
      await state.during();
      if (state.down) throw new Error('connect ECONNREFUSED');
      const mine = [...(team.get(who.id) ?? [])].filter((id) => among === undefined || among.includes(id));
      return mine.slice(0, limit);
    },
  };
  return { team, state, relations };
}

describe('care-relation watch on real PostgreSQL', () => {
  let db: TestDatabase;
  let bus: GrantEventBusHandle;
  let policies: PolicyRegistry;
  let access: AccessService;
  let care: ReturnType<typeof careTeam>;
  const events: GrantEvent[] = [];
  const watch = (more: { clock?: Clock; intervalMs?: number } = {}) =>
    createCareRelationWatch({
      db: db.db,
      policies,
      careRelations: care.relations,
      bus,
      clock: more.clock ?? systemClock,
      logger: silentLogger,
      pseudonymizer: testPseudonymizer,
      intervalMs: more.intervalMs ?? 60_000,
    });

  before(async () => {
    db = await createTestDatabase();
    bus = createGrantEventBus({ pool: db.pool, replicaId: 'test', logger: silentLogger });
    await bus.ready();
    bus.subscribe((e) => events.push(e));
  });
  beforeEach(async () => {
    // Each test counts only its own grants: end the earlier tests' ones.
    await db.db
      .updateTable('access_requests')
      .set({ status: 'expired', ended_at: new Date(), end_reason: 'expired', ended_by: 'system' })
      .where('status', '=', 'active')
      .execute();
    care = careTeam();
    care.team.set(olivia.id, new Set(['MRN-1', 'MRN-2', 'MRN-3']));
    policies = createPolicyRegistry({ db: db.db, logger: silentLogger });
    assert.ok((await policies.load(POLICY, 'policy.yaml')).ok);
    access = createAccessService({
      db: db.db,
      policies,
      clock: systemClock,
      bus,
      logger: silentLogger,
      pseudonymizer: testPseudonymizer,
      careRelations: care.relations,
    });
  });
  after(async () => {
    await bus.close();
    await db.drop();
  });

  const attending = async (patientIds?: string[]) => {
    const { request } = await access.createRequest(olivia, {
      resource: 'ehr',
      role: 'attending',
      duration: '1h',
      purpose: 'TREAT',
      justification: 'Rounds on my synthetic patients',
      ...(patientIds === undefined ? {} : { patientIds }),
    });
    assert.equal(request.status, 'active');
    return request.id;
  };
  const statusOf = async (id: string) =>
    db.db
      .selectFrom('access_requests')
      .select(['status', 'end_reason', 'ended_by'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  it('ends a grant whose patient left the care team, audited and announced; keeps the others', async () => {
    const all = await attending();
    const one = await attending(['MRN-1']);
    care.team.get(olivia.id)!.delete('MRN-3');

    const result = await watch().checkNow();
    assert.deepEqual(result, { checked: 2, ended: 1, unknown: 0, skipped: false });
    assert.deepEqual(await statusOf(all), {
      status: 'revoked',
      end_reason: 'care-relation-ended',
      ended_by: 'system',
    });
    assert.equal((await statusOf(one)).status, 'active');
    assert.ok(events.some((e) => e.type === 'grant.revoked' && e.grantId === all));
    const audit = await db.db
      .selectFrom('audit_events')
      .select(['action', 'actor_id', 'patient_tokens', 'canonical'])
      .where('request_id', '=', all)
      .orderBy('seq')
      .execute();
    assert.equal(audit.at(-1)!.action, 'grant.revoke');
    assert.equal(audit.at(-1)!.actor_id, 'system');
    // The grant's patients, as for any revocation: their accountings show when this access ended.
    assert.equal(audit.at(-1)!.patient_tokens.length, 3);
    const revoke = JSON.parse(audit.at(-1)!.canonical) as { detail: Record<string, unknown> };
    assert.equal(revoke.detail['authority'], 'care-relation');
    assert.equal(revoke.detail['code'], 'patients.outside-care-relation');
    assert.equal(revoke.detail['outside'], 1);
    // No patient id in the record: only the count of those who left.
    assert.doesNotMatch(audit.at(-1)!.canonical, /MRN-/);
  });

  it('leaves grants alone when the relation cannot be looked up, and ends them once it can say no', async () => {
    const id = await attending();
    care.state.down = true;
    care.team.get(olivia.id)!.clear();
    assert.deepEqual(await watch().checkNow(), { checked: 1, ended: 0, unknown: 1, skipped: false });
    assert.equal((await statusOf(id)).status, 'active');
    care.state.down = false;
    assert.deepEqual(await watch().checkNow(), { checked: 1, ended: 1, unknown: 0, skipped: false });
    assert.equal((await statusOf(id)).status, 'revoked');
  });

  it('does not look up grants made without a care relation', async () => {
    const { request } = await access.createRequest(dan, {
      resource: 'ehr',
      role: 'chart',
      duration: '1h',
      purpose: 'TREAT',
      justification: 'Chart review',
      patientIds: ['MRN-9'],
    });
    assert.equal(request.status, 'active');
    assert.deepEqual(await watch().checkNow(), { checked: 0, ended: 0, unknown: 0, skipped: false });
    assert.equal(care.state.lookups, 0);
  });

  it('two replicas checking at once take turns, and the grant ends once', async () => {
    const id = await attending();
    care.team.get(olivia.id)!.clear();
    const before = care.state.lookups; // the request's own look-up
    const [a, b] = await Promise.all([watch().checkNow(), watch().checkNow()]);
    assert.equal(a.ended + b.ended, 1);
    // Whichever ran second waited for the first, and found the grant already ended.
    assert.equal(care.state.lookups - before, 1);
    assert.ok(!a.skipped && !b.skipped);
    const revokes = await db.db
      .selectFrom('audit_events')
      .select('seq')
      .where('request_id', '=', id)
      .where('action', '=', 'grant.revoke')
      .execute();
    assert.equal(revokes.length, 1);
  });

  it('a grant whose time runs out during its look-up is left to expire, not revoked', async () => {
    const id = await attending();
    const row = await db.db
      .selectFrom('access_requests')
      .select('expires_at')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    let now = new Date();
    const clock: Clock = { now: () => now };
    care.team.get(olivia.id)!.clear();
    care.state.during = () => {
      now = new Date(row.expires_at!.getTime() + 1_000);
      return Promise.resolve();
    };
    const result = await watch({ clock }).checkNow();
    assert.equal(result.ended, 0);
    assert.equal((await statusOf(id)).status, 'active');
  });

  it('checks a grant against the relation of the policy it was decided under', async () => {
    const id = await attending();
    // A later policy points the role's relation at another table; the grant was made on care_team.
    const later = POLICY.replace(
      'careRelation: { table: public.care_team,',
      'careRelation: { table: public.other_team,',
    ).replace(
      '      public.care_team:',
      '      public.other_team: { patientKey: { column: patient_id, references: public.patients.id } }\n      public.care_team:',
    );
    const loaded = await policies.load(later, 'policy.yaml');
    assert.ok(loaded.ok, JSON.stringify(loaded));
    assert.equal(policies.current().roles.get('attending')!.careRelation!.table, 'public.other_team');
    care.state.tables.clear();
    const result = await watch().checkNow();
    assert.equal(result.checked, 1);
    assert.deepEqual([...care.state.tables], ['public.care_team']);
    assert.equal((await statusOf(id)).status, 'active');
  });

  it('runs rounds on its own once started, and stops', async () => {
    const id = await attending();
    const w = watch({ intervalMs: 50 });
    w.start();
    try {
      care.team.get(olivia.id)!.delete('MRN-2');
      await until(async () => (await statusOf(id)).status === 'revoked', 'the grant ended by a timed round');
    } finally {
      await w.stop();
    }
    const after = care.state.lookups;
    await sleep(200);
    assert.equal(care.state.lookups, after, 'no round after stop()');
  });

  it('a timed round skips while another replica holds the round, and the next one runs', async () => {
    const id = await attending();
    care.team.get(olivia.id)!.clear();
    const other = await db.pool.connect();
    await other.query('select pg_advisory_lock($1)', [CARE_ROUND_LOCK]);
    const w = watch({ intervalMs: 50 });
    try {
      const before = care.state.lookups;
      w.start();
      await sleep(300);
      assert.equal(care.state.lookups, before, 'no look-up while another replica runs its round');
      assert.equal((await statusOf(id)).status, 'active');
      await other.query('select pg_advisory_unlock($1)', [CARE_ROUND_LOCK]);
      await until(async () => (await statusOf(id)).status === 'revoked', 'ended by the next timed round');
    } finally {
      other.release();
      await w.stop();
    }
  });
});
