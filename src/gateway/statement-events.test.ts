import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPseudonymizer } from '../audit/pseudonymizer.js';
import { grantFixture } from '../../test/support/grant-fixture.js';
import { createStatementEvents, type SessionContext } from './statement-events.js';

const pseudonymizer = createPseudonymizer(Buffer.alloc(32, 0x5a));
const events = createStatementEvents(pseudonymizer);
const context: SessionContext = {
  grant: grantFixture(),
  sessionId: 's-1',
  clientAddress: '127.0.0.1',
  tokenId: 't-1',
  databaseRole: 'phigate_g_x',
};

describe('statement events', () => {
  it('records a statement by fingerprint with literals and parameters as tokens only', () => {
    const statement = {
      id: 3,
      kind: 'execute' as const,
      sql: "select * from patients where mrn = $1 and name = 'Ada Synthwood'",
      parameters: [Buffer.from('MRN-DEMO-0001'), null, Buffer.from([0xff, 0x00])],
    };
    const e = events.statement(context, statement);
    const text = JSON.stringify(e);
    assert.doesNotMatch(text, /MRN-DEMO|Ada|Synthwood/);
    assert.equal(e.what?.statement?.fingerprint, 'select * from patients where mrn = $1 and name = ?');
    assert.deepEqual(e.what?.statement?.literals, [pseudonymizer.literal('Ada Synthwood')]);
    // A text parameter gets the token the same value has as a literal; a binary one its bytes'.
    assert.deepEqual(e.what?.statement?.parameters, [
      pseudonymizer.literal('MRN-DEMO-0001'),
      null,
      pseudonymizer.literal('\\xff00'),
    ]);
    assert.equal(e.who.actor, 'https://idp.test#dan');
    assert.equal(e.who.subject, 'dan');
    assert.equal(e.how?.sessionId, 's-1');
  });

  it('records a refusal with its guard code, and completions with rows, duration and failures', () => {
    const s = { id: 1, kind: 'query' as const, sql: 'set role postgres' };
    const refused = events.statement(context, { ...s, refusedBy: 'guard.set-role' });
    assert.equal(refused.outcome, 'refused');
    assert.equal(refused.reasonCode, 'guard.set-role');
    const r = (outcome: 'success' | 'failure', rows: number | undefined, sqlState?: string) => ({
      statement: s,
      result: { id: 1, kind: 'query' as const, outcome, rows, durationMs: 1.23456, sqlState, returned: 0 },
    });
    const ok = events.completions(context, [r('success', 5)]);
    assert.equal(ok.outcome, 'success');
    assert.deepEqual(ok.detail?.['results'], [
      { statementId: 1, protocol: 'query', outcome: 'success', rows: 5, durationMs: 1.235 },
    ]);
    const mixed = events.completions(context, [r('success', 5), r('failure', undefined, '42501')]);
    assert.equal(mixed.outcome, 'failure');
    assert.equal(mixed.detail?.['failed'], 1);
    assert.equal((mixed.detail?.['results'] as { sqlState?: string }[])[1]!.sqlState, '42501');
  });

  it('names a patient-scoped grant’s patients on every session event, as tokens, never as ids', () => {
    const scoped: SessionContext = {
      ...context,
      grant: { ...context.grant, patientIds: ['MRN-DEMO-0002', 'MRN-DEMO-0001', 'MRN-DEMO-0002'] },
    };
    const statement = { id: 1, kind: 'query' as const, sql: 'select count(*) from encounters' };
    const tokens = [pseudonymizer.patient('MRN-DEMO-0002'), pseudonymizer.patient('MRN-DEMO-0001')];
    for (const e of [
      events.sessionOpened(scoped, {}),
      events.statement(scoped, statement),
      events.statements(scoped, [{ statement, at: new Date() }]),
      events.sessionClosed(scoped, 'client-closed', {}),
    ]) {
      assert.deepEqual(e.what?.patients, tokens, e.action);
      assert.doesNotMatch(JSON.stringify(e), /MRN-DEMO/);
    }
    assert.equal(events.statement(context, statement).what?.patients, undefined, 'unscoped: no patients');
  });

  it('records each disclosing statement with the tables it read and its patients as tokens, never as ids', () => {
    const select = { id: 1, kind: 'query' as const, sql: "select mrn from patients where zip = '12345'" };
    const count = { id: 2, kind: 'query' as const, sql: 'select count(*) from encounters' };
    const result = (id: number, returned: number) =>
      ({ id, kind: 'query', outcome: 'success', rows: returned, durationMs: 1, returned }) as const;
    const e = events.completions(context, [
      {
        statement: select,
        result: result(1, 2),
        disclosure: { tables: ['public.patients'], patients: ['MRN-1', 'MRN-2'], unattributed: undefined },
      },
      {
        statement: count,
        result: result(2, 1),
        disclosure: { tables: ['public.encounters'], patients: [], unattributed: 'no-key' },
      },
      { statement: { id: 3, kind: 'query', sql: 'select 1' }, result: result(3, 1) },
    ]);
    assert.doesNotMatch(JSON.stringify(e), /MRN-1|MRN-2|12345/);
    const [t1, t2] = [pseudonymizer.patient('MRN-1'), pseudonymizer.patient('MRN-2')];
    assert.deepEqual(e.what?.patients, [t1, t2]);
    assert.equal(
      e.what?.unattributed,
      true,
      'a grant without patients: every patient’s accounting must find it',
    );
    const results = (e.detail as { results: Record<string, unknown>[] }).results;
    assert.deepEqual(results[0]!['disclosure'], { tables: ['public.patients'], patients: [t1, t2] });
    assert.equal(results[0]!['fingerprint'], 'select mrn from patients where zip = ?');
    assert.deepEqual(results[1]!['disclosure'], { tables: ['public.encounters'], unattributed: 'no-key' });
    assert.equal(results[2]!['disclosure'], undefined);
    assert.equal(results[2]!['fingerprint'], undefined);
  });

  it('ties the Executes of one portal together (run), so the accounting lists the execution once', () => {
    const e = events.completions(context, [
      {
        statement: { id: 7, kind: 'execute', sql: 'select 1', run: 5 },
        result: { id: 7, kind: 'execute', outcome: 'success', rows: 1, durationMs: 1, returned: 1 },
      },
    ]);
    assert.equal((e.detail as { results: Record<string, unknown>[] }).results[0]!['run'], 5);
  });

  it('keeps a patient-scoped grant’s own patients on its completions', () => {
    const scoped = { ...context, grant: { ...context.grant, patientIds: ['MRN-9'] } };
    const e = events.completions(scoped, [
      {
        statement: { id: 1, kind: 'query', sql: 'select 1' },
        result: { id: 1, kind: 'query', outcome: 'success', rows: 1, durationMs: 1, returned: 1 },
        disclosure: { tables: ['public.patients'], patients: [], unattributed: 'no-key' },
      },
    ]);
    assert.deepEqual(e.what?.patients, [pseudonymizer.patient('MRN-9')]);
    assert.equal(e.what?.unattributed, undefined, 'scoped: its unattributed statements are its patients’');
    assert.equal(e.detail?.['patientScope'], true);
  });
});
