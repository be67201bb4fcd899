import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dataRowBody, rowDescriptionBody } from '../../../test/support/backend-rows.js';
import { MessageWriter } from './message-writer.js';
import type { ResultField } from './result-rows.js';
import {
  MAX_PATIENTS_PER_STATEMENT,
  rowsOfTag,
  StatementTracker,
  type DescribedShape,
  type PortalShape,
  type StatementResult,
} from './statement-tracker.js';

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
    assert.deepEqual(r, { id: 1, kind: 'query', outcome: 'success', rows: 5, durationMs: 7, returned: 0 });
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

describe('statement tracker: the patients a statement returned', () => {
  // Relation 500 is a view whose column 2 holds patient ids; relation 600 is any other table.
  const KEY = { table: 'public.patients' };
  const patientColumnOf = (relation: number, attnum: number) =>
    relation === 500 && attnum === 2 ? KEY : undefined;
  const tracker = () => new StatementTracker(() => 0, patientColumnOf);
  const ids = (r: StatementResult) =>
    r.patientRefs === undefined ? undefined : [...r.patientRefs.values()].flat();
  const text = (relation: number, attnum: number, type = 25): ResultField => ({
    relation,
    attnum,
    type,
    format: 0,
  });
  const description = (...fields: ResultField[]) => msg('T', rowDescriptionBody(fields));
  const row = (...values: (string | Buffer | null)[]) => msg('D', dataRowBody(values));
  const int4 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };

  it('reads a simple query’s patient column from each of its results, distinct ids once', () => {
    const t = tracker();
    t.started('query', 1);
    const [r] = feed(
      t,
      description(text(600, 1), text(500, 2)),
      row('x', 'P-1'),
      row('y', 'P-2'),
      row('z', 'P-1'),
      row('w', null),
      complete('SELECT 4'),
      description(text(500, 1), text(600, 2)),
      row('P-3', 'P-9'),
      complete('SELECT 1'),
      ready,
    );
    assert.deepEqual(ids(r!), ['P-1', 'P-2']);
    assert.equal(r!.rows, 5);
    assert.equal(r!.returned, 5);
    assert.equal(r!.patientsUnread, 'null-key', 'a row whose patient column is NULL names no patient');
    // The second result carried no patient column: the statement's rows are not all keyed.
    assert.deepEqual(r!.keyedTables, []);
  });

  it('keys a result only by the tables whose patient columns were in it', () => {
    const t = tracker();
    t.started('query', 1);
    const [r] = feed(
      t,
      description(text(500, 2), text(600, 1)),
      row('P-1', 'x'),
      complete('SELECT 1'),
      ready,
    );
    assert.deepEqual(r!.keyedTables, ['public.patients']);
    assert.equal(r!.patientsUnread, undefined);
    t.started('query', 2);
    const [none] = feed(t, description(text(600, 1)), complete('SELECT 0'), ready);
    assert.equal(none!.returned, 0);
    assert.equal(none!.keyedTables, undefined, 'no row, nothing keyed or not');
  });

  it('says nothing of patients when no column holds them, or when it is not asked to', () => {
    const t = tracker();
    t.started('query', 1);
    const [r] = feed(
      t,
      description(text(600, 2), text(0, 0)),
      row('P-1', 'P-2'),
      complete('SELECT 1'),
      ready,
    );
    assert.equal(ids(r!), undefined);
    const plain = new StatementTracker(() => 0);
    plain.started('query', 2);
    const [p] = feed(plain, description(text(500, 2)), row('P-1'), complete('SELECT 1'), ready);
    assert.equal(ids(p!), undefined);
  });

  it('describes an Execute by its portal’s Describe', () => {
    const t = tracker();
    const portal: PortalShape = {
      portal: { fields: undefined },
      statement: { fields: undefined },
      resultFormats: [],
    };
    t.described(portal.portal);
    t.started('execute', 1, portal);
    t.sync();
    const [r] = feed(
      t,
      msg('1'),
      msg('2'),
      description(text(500, 2)),
      row('P-7'),
      complete('SELECT 1'),
      ready,
    );
    assert.deepEqual(ids(r!), ['P-7']);
  });

  it('describes an Execute of a prepared statement described earlier, in the formats of its Bind', () => {
    const t = tracker();
    const prepared: DescribedShape = { fields: undefined };
    t.described(prepared);
    t.sync();
    feed(t, msg('1'), msg('t', Buffer.from([0, 0])), description(text(500, 2, 23)), ready);
    // Later, without a Describe: Bind asks for binary results, Execute.
    const portal: PortalShape = { portal: { fields: undefined }, statement: prepared, resultFormats: [1] };
    t.started('execute', 2, portal);
    t.sync();
    const [r] = feed(t, msg('2'), row(int4(42)), row(int4(43)), complete('SELECT 2'), ready);
    assert.deepEqual(ids(r!), ['42', '43']);
  });

  it('keeps matching answers after a Describe of a statement that returns nothing, or one that failed', () => {
    const t = tracker();
    t.described({ fields: undefined });
    t.started('execute', 1, {
      portal: { fields: undefined },
      statement: { fields: undefined },
      resultFormats: [],
    });
    t.sync();
    const [insert] = feed(t, msg('t', Buffer.from([0, 0])), msg('n'), complete('INSERT 0 1'), ready);
    assert.equal(insert!.outcome, 'success');
    const failing: DescribedShape = { fields: undefined };
    t.described(failing);
    t.started('execute', 2, { portal: { fields: undefined }, statement: failing, resultFormats: [] });
    t.sync();
    const [skipped] = feed(t, error('26000'), ready);
    assert.equal(skipped!.outcome, 'skipped');
    t.started('query', 3);
    const [next] = feed(t, description(text(500, 2)), row('P-1'), complete('SELECT 1'), ready);
    assert.deepEqual(ids(next!), ['P-1']);
    assert.equal(t.pending, 0);
  });

  it('lists at most MAX_PATIENTS_PER_STATEMENT patients and says when there were more', () => {
    const t = tracker();
    t.started('query', 1);
    const rows = Array.from({ length: MAX_PATIENTS_PER_STATEMENT + 1 }, (_, i) => row(`P-${i}`));
    const [r] = feed(t, description(text(500, 2)), ...rows, complete(`SELECT ${rows.length}`), ready);
    assert.equal(ids(r!)!.length, MAX_PATIENTS_PER_STATEMENT);
    assert.equal(r!.patientsUnread, 'overflow');
  });

  it('says when rows came back whose patients it could not read: undescribed, unreadable binary, COPY', () => {
    const t = tracker();
    t.started('execute', 1, {
      portal: { fields: undefined },
      statement: { fields: undefined },
      resultFormats: [],
    });
    t.sync();
    const [undescribed] = feed(t, row('P-1'), complete('SELECT 1'), ready);
    assert.equal(undescribed!.patientsUnread, 'undescribed');
    assert.equal(ids(undescribed!), undefined);
    t.started('query', 2);
    const numeric: ResultField = { relation: 500, attnum: 2, type: 1700, format: 1 };
    const [binary] = feed(t, description(numeric), row(Buffer.alloc(8)), complete('SELECT 1'), ready);
    assert.equal(binary!.patientsUnread, 'binary');
    t.started('query', 3);
    const [copy] = feed(
      t,
      msg('H', Buffer.from([0, 0, 0])),
      msg('d', Buffer.from('P-1\n')),
      msg('c'),
      complete('COPY 1'),
      ready,
    );
    assert.equal(copy!.patientsUnread, 'copy');
    assert.equal(copy!.returned, 1, 'COPY rows out are rows returned');
    t.started('query', 4);
    const [known] = feed(t, description(text(500, 2)), row('P-1'), complete('SELECT 1'), ready);
    assert.equal(known!.patientsUnread, undefined);
    assert.deepEqual(known!.keyedTables, ['public.patients']);
  });
});
