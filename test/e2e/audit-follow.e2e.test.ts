/**
 * `phigate audit tail -f` on a quiet log (issue 14, item 3). Following used to poll with ordinary queries, each one
 * recorded as a new `audit.query`, so the log fed on its own reads. Now a follow is one lasting query: one record
 * when it starts, one when it ends (with how many events it returned), and nothing in between — while new events
 * still reach the follower.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { queryEvents } from '../../src/audit/event-query.js';
import { demoPolicy } from '../../src/demo/demo.js';
import { runCli, spawnCli } from '../support/cli.js';
import { startTestPhigate, type TestPhigate } from '../support/phigate.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('audit tail --follow', () => {
  let server: TestPhigate;
  before(async () => {
    server = await startTestPhigate({ policy: demoPolicy() });
  });
  after(() => server.stop());

  it('records one query when following starts and one when it ends, however long the log stays quiet', async () => {
    const { phigate, dir } = server;
    const env = { PHIGATE_API_URL: phigate.url, PHIGATE_TOKEN_CACHE: path.join(dir, 'priya.json') };
    assert.equal((await runCli(['login', '--dev-user', 'priya'], env)).code, 0);
    const queries = async () =>
      (await queryEvents(phigate.store.db, { action: 'audit.query', limit: 1000 })).map(
        (e) => e.record.detail as { follow?: string; returned?: number },
      );
    assert.deepEqual(await queries(), []);

    const follower = spawnCli(['audit', 'tail', '-f', '-n', '3'], env);
    let out = '';
    follower.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const closed = new Promise((resolve) => follower.on('close', resolve));
    try {
      for (let i = 0; i < 100 && !out.includes('audit.query'); i++) await sleep(100);
      assert.match(out, /audit\.query/, 'the follow starts with the latest events, its own start among them');

      await sleep(4500); // a quiet log, several polls long
      assert.deepEqual(
        (await queries()).map((d) => d.follow),
        ['started'],
        'polls are not recorded as queries',
      );
      assert.equal(out.match(/audit\.query/g)?.length, 1, 'the follower does not print its own polls');

      // A new event still reaches the follower.
      const token = await phigate.mintDevToken!('dan');
      const res = await fetch(new URL('/v1/requests', phigate.url), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': 'follow-test-1',
        },
        body: JSON.stringify({
          resource: 'clinic-db',
          role: 'analyst-encounters',
          purpose: 'HQUALIMP',
          justification: 'Readmission review',
          patientIds: ['MRN-DEMO-0001'],
        }),
      });
      assert.equal(res.status, 201, await res.text());
      for (let i = 0; i < 50 && !/request\.create/.test(out); i++) await sleep(100);
      assert.match(out, /request\.create/);
    } finally {
      follower.kill('SIGINT');
      await closed;
    }
    let recorded: { follow?: string; returned?: number }[] = [];
    for (let i = 0; i < 50; i++) {
      recorded = await queries();
      if (recorded.length === 2) break;
      await sleep(100);
    }
    assert.deepEqual(
      recorded.map((d) => d.follow),
      ['started', 'ended'],
    );
    assert.equal(
      recorded[1]!.returned,
      out.trim().split('\n').length,
      'the end says how many events it sent',
    );
  });
});
