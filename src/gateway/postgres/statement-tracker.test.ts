import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageWriter } from './message-writer.js';
import { rowsOfTag, StatementTracker } from './statement-tracker.js';

const msg = (type: string, body: Buffer = Buffer.alloc(0)): [number, Buffer] => [type.charCodeAt(0), body];
const complete = (tag: string) => msg('C', Buffer.from(`${tag}\0`));
const error = (code: string) =>
  msg(
    'E',
    new MessageWriter().byte(0x53).cstring('ERROR').byte(0x43).cstring(code).byte(0).finish('E').subarray(5),
  );
const ready = msg('Z', Buffer.from('I'));

function feed(t: StatementTracker, ...messages: [number, Buffer][]) {
  return messages.flatMap(([type, body]) => t.backend(type, body));
}

describe('statement tracker', () => {
  it('reads row counts from CommandComplete tags', () => {
    assert.equal(rowsOfTag('SELECT 5'), 5);
    assert.equal(rowsOfTag('INSERT 0 3'), 3);
    assert.equal(rowsOfTag('UPDATE 0'), 0);
    assert.equal(rowsOfTag('COPY 12'), 12);
    assert.equal(rowsOfTag('CREATE TABLE'), undefined);
    assert.equal(rowsOfTag('SET'), undefined);
  });

  it('completes a simple query at ReadyForQuery, summing the rows of its statements', () => {
    let now = 0;
    const t = new StatementTracker(() => now);
    t.started('query', 1);
    now = 7;
    assert.deepEqual(feed(t, complete('SELECT 2'), complete('UPDATE 3')), []);
    const [r] = feed(t, ready);
    assert.deepEqual(r, { id: 1, kind: 'query', outcome: 'success', rows: 5, durationMs: 7 });
    assert.equal(t.pending, 0);
  });

  it('marks a simple query that raised an error as failed with its SQLSTATE', () => {
    const t = new StatementTracker(() => 0);
    t.started('query', 1);
    const [r] = feed(t, error('42501'), ready);
    assert.equal(r!.outcome, 'failure');
    assert.equal(r!.sqlState, '42501');
    assert.equal(r!.rows, undefined);
  });

  it('completes each Execute by its own answer; after an error the rest of the batch is skipped', () => {
    const t = new StatementTracker(() => 0);
    t.started('execute', 1);
    t.started('execute', 2);
    t.started('execute', 3);
    t.sync();
    t.started('execute', 4);
    t.sync();
    const results = feed(
      t,
      msg('1'),
      msg('2'),
      msg('D'),
      complete('SELECT 1'),
      error('22012'),
      ready,
      msg('I'),
      ready,
    );
    assert.deepEqual(
      results.map((r) => [r.id, r.outcome, r.rows]),
      [
        [1, 'success', 1],
        [2, 'failure', undefined],
        [3, 'skipped', undefined],
        [4, 'success', 0],
      ],
    );
    assert.equal(t.pending, 0);
  });

  it('counts DataRows for a suspended portal', () => {
    const t = new StatementTracker(() => 0);
    t.started('execute', 1);
    const [r] = feed(t, msg('D'), msg('D'), msg('s'));
    assert.equal(r!.rows, 2);
  });
});
