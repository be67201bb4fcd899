import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEventInput } from '../audit/event.js';
import { createPseudonymizer } from '../audit/pseudonymizer.js';
import { grantFixture } from '../../test/support/grant-fixture.js';
import { disclosureOf, rolePhi } from './disclosure.js';
import type { TableAccess } from '../policy/types.js';
import { createSessionAudit } from './session-audit.js';
import { createStatementEvents } from './statement-events.js';

/** The writer's contract as the session sees it: accept, fail, report health. (The writer has its own tests.) */
function writer(fail = false) {
  const written: AuditEventInput[] = [];
  return {
    written,
    backlog: 0,
    healthy: !fail,
    append(events: readonly AuditEventInput[]) {
      if (fail) return Promise.reject(new Error('store down'));
      written.push(...events);
      return Promise.resolve(events.map((_, i) => i + 1));
    },
  };
}

const context = {
  grant: grantFixture({
    id: 'g',
    requesterId: 'i#dan',
    requester: { id: 'i#dan', displayName: 'Dan', groups: [], mfa: false },
    resource: 'r',
    role: 'x',
    policyHash: 'h',
  }),
  sessionId: 's',
  clientAddress: '127.0.0.1',
  tokenId: undefined,
  databaseRole: 'phigate_g_x',
};
const events = createStatementEvents(createPseudonymizer(Buffer.alloc(32, 1)));
const statement = { id: 1, kind: 'query' as const, sql: 'select 1', relations: [] };
/** A statement that reads the PHI table `patients`. */
const read = { id: 1, kind: 'query' as const, sql: 'select mrn from patients', relations: ['patients'] };
const phi = rolePhi([{ table: 'public.patients', phi: true } as unknown as TableAccess]);
const KEY = { table: 'public.patients' };

/** A session audit for `w`: durable, its losses and errors unwatched, unless the test says otherwise. */
const sessionAudit = (
  w: ReturnType<typeof writer>,
  o: Partial<Omit<Parameters<typeof createSessionAudit>[0], 'writer' | 'events' | 'context'>> = {},
) =>
  createSessionAudit({
    writer: w,
    events,
    context,
    wait: 'durable',
    disclosureOf: (s, r) => disclosureOf(s, r, phi),
    keysOf: (_column, values) => Promise.resolve(new Map(values.map((v) => [v, [v]]))),
    now: () => new Date(),
    onLost: () => undefined,
    onError: () => undefined,
    ...o,
  });
const done = (id: number, patientIds?: string[]) =>
  ({
    id,
    kind: 'query',
    outcome: 'success',
    rows: 1,
    durationMs: 1,
    returned: 1,
    ...(patientIds ? { patientRefs: new Map([[KEY, patientIds]]), keyedTables: [KEY.table] } : {}),
  }) as const;

describe('session audit', () => {
  it('durable: the statement waits for its record, and fails when the record fails', async () => {
    const ok = writer();
    const audit = sessionAudit(ok, { onLost: () => assert.fail() });
    await audit.statement(statement);
    assert.equal(ok.written[0]!.action, 'statement.execute');
    const down = sessionAudit(writer(true));
    await assert.rejects(down.statement(statement), /store down/);
  });

  it('queued: refuses while the writer is failing; a record that fails later ends the session', async () => {
    const failing = { ...writer(true), healthy: true };
    let lost = 0;
    const audit = sessionAudit(failing, { wait: 'queued', onLost: () => (lost += 1) });
    await audit.statement(statement); // accepted: the writer looked healthy
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(lost, 1);
    const unhealthy = sessionAudit(writer(true), { wait: 'queued' });
    await assert.rejects(unhealthy.statement(statement), /not keeping up/);
  });

  it('queued: a run of statements becomes one record, each with the time it was queued', async () => {
    const w = writer();
    const audit = sessionAudit(w, {
      wait: 'queued',
      now: () => new Date('2026-11-22T10:00:00Z'),
      onLost: () => assert.fail(),
    });
    for (let id = 1; id <= 3; id++) await audit.statement({ ...statement, id });
    assert.equal(w.written.length, 0, 'nothing written before the run ends');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(w.written.length, 1);
    const batch = w.written[0]!;
    assert.equal(batch.action, 'statement.batch');
    const statements = batch.detail?.['statements'] as {
      statementId: number;
      at: string;
      fingerprint: string;
    }[];
    assert.deepEqual(
      statements.map((s) => s.statementId),
      [1, 2, 3],
    );
    assert.equal(statements[0]!.at, '2026-11-22T10:00:00.000Z');
    assert.equal(statements[0]!.fingerprint, 'select ?');
  });

  it('gathers completions into one event, written at the latest when the session closes', async () => {
    const w = writer();
    const audit = sessionAudit(w);
    for (let i = 0; i < 3; i++)
      void audit.completed(statement, {
        id: 1,
        kind: 'query',
        outcome: 'success',
        rows: i,
        durationMs: 1,
        returned: i,
      });
    await audit.close('client-closed', {});
    assert.deepEqual(
      w.written.map((e) => e.action),
      ['statement.complete', 'session.close'],
    );
    assert.equal((w.written[0]!.detail?.['results'] as unknown[]).length, 3);
  });

  it('ends the session when a completion record holding patients is lost; one without patients only logs', async () => {
    for (const patientIds of [['P-1'], undefined]) {
      let lost = 0;
      let errors = 0;
      const audit = sessionAudit(writer(true), {
        wait: 'queued',
        onLost: () => (lost += 1),
        onError: () => (errors += 1),
      });
      void audit.completed(patientIds ? read : statement, done(1, patientIds));
      await audit.close('client-closed', {}).catch(() => undefined);
      await new Promise((r) => setImmediate(r));
      assert.equal(errors, 1);
      assert.equal(lost, patientIds ? 1 : 0);
    }
  });

  it('queued: writes a completion record as soon as it holds 5,000 patients', async () => {
    const w = writer();
    const audit = sessionAudit(w, { wait: 'queued' });
    const ids = (from: number) => Array.from({ length: 2_500 }, (_, i) => `P-${from + i}`);
    assert.equal(audit.completed(read, done(1, ids(0))), undefined, 'queued: the client does not wait');
    await new Promise((r) => setImmediate(r));
    assert.equal(w.written.length, 0);
    void audit.completed(read, done(2, ids(2_500)));
    await new Promise((r) => setImmediate(r));
    assert.equal(w.written.length, 1);
    assert.equal(w.written[0]!.what?.patients?.length, 5_000);
  });

  it('durable: a statement that disclosed is complete for the client only once the record naming its patients is written', async () => {
    const w = writer();
    const audit = sessionAudit(w);
    assert.equal(audit.completed(statement, done(1)), undefined, 'nothing disclosed (no PHI table): no wait');
    const wait = audit.completed(read, done(2, ['P-1']));
    assert.ok(wait instanceof Promise, 'a disclosure makes the client wait');
    assert.equal(w.written.length, 0, 'not yet written when the wait begins');
    await wait;
    assert.equal(w.written.length, 1);
    assert.deepEqual(w.written[0]!.what?.patients, [createPseudonymizer(Buffer.alloc(32, 1)).patient('P-1')]);
    // The record cannot be written: the wait fails (the relay then ends the session instead of answering).
    let lost = 0;
    const failing = sessionAudit(writer(true), { onLost: () => (lost += 1) });
    await assert.rejects(failing.completed(read, done(3, ['P-1']))!);
    assert.equal(lost, 1);
  });
});
