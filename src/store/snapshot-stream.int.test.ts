import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { snapshotLines } from './snapshot-stream.js';

describe('snapshot line streams', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    await sql`create table numbers (n int)`.execute(db.db);
    await sql`insert into numbers select generate_series(1, 500)`.execute(db.db);
  });
  after(() => db.drop());

  const produce = async function* (tx: typeof db.db): AsyncGenerator<string> {
    for (let page = 0; page < 5; page++) {
      const rows = await sql<{
        n: number;
      }>`select n from numbers order by n offset ${page * 100} limit 100`.execute(tx);
      for (const r of rows.rows) yield `${r.n}\n`;
    }
    const total = await sql<{ c: number }>`select count(*)::int as c from numbers`.execute(tx);
    yield `total ${total.rows[0]!.c}\n`;
  };

  it('reads one consistent snapshot while others write, at the pace of the reader', async () => {
    const lines: string[] = [];
    for await (const line of snapshotLines(db.db, produce)) {
      lines.push(line);
      if (lines.length === 10) await sql`insert into numbers values (9999)`.execute(db.db);
    }
    assert.equal(lines.length, 501);
    assert.equal(lines.at(-1), 'total 500\n', 'the row written meanwhile is not in this snapshot');
  });

  it('ends its transaction when the reader stops early, and passes errors on', async () => {
    for await (const line of snapshotLines(db.db, produce)) if (line === '3\n') break;
    const open = await sql<{ c: number }>`
      select count(*)::int as c from pg_stat_activity
       where datname = current_database() and state like 'idle in transaction%'`.execute(db.db);
    assert.equal(open.rows[0]!.c, 0);
    const failing = async function* (): AsyncGenerator<string> {
      yield 'a\n';
      throw new Error('boom');
    };
    await assert.rejects(async () => {
      for await (const line of snapshotLines(db.db, failing)) void line;
    }, /the export failed|boom/);
  });
});
