/**
 * The `phigate` CLI as a person uses it, against a real server: device-flow sign-in (demo users), request,
 * approval by someone else, listings as JSON, documented exit codes, and offline policy checks.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoPolicy } from '../../src/demo/demo.js';
import type { RunningPhigate } from '../../src/server/start.js';
import { startTestPhigate, type TestPhigate } from '../support/phigate.js';
import { runCli, REPO_ROOT } from '../support/cli.js';

describe('phigate CLI', () => {
  let server: TestPhigate;
  let dir: string;
  let phigate: RunningPhigate;
  const as = (user: string) => ({
    PHIGATE_API_URL: phigate.url,
    PHIGATE_TOKEN_CACHE: path.join(dir, `${user}-tokens.json`),
  });
  const cli = (user: string, ...args: string[]) => runCli(args, as(user));

  before(async () => {
    server = await startTestPhigate({ policy: demoPolicy() });
    phigate = server.phigate;
    dir = server.dir;
  });
  after(() => server.stop());

  it('signs in with the device flow, requests, gets approved by someone else, and lists the grant', async () => {
    for (const user of ['dan', 'carol']) {
      const login = await cli(user, 'login', '--dev-user', user);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Signed in as /);
      assert.equal(statSync(path.join(dir, `${user}-tokens.json`)).mode & 0o777, 0o600);
    }
    const whoami = await cli('dan', '--json', 'whoami');
    assert.deepEqual((JSON.parse(whoami.stdout) as { groups: string[] }).groups, ['analysts']);

    const request = await cli(
      'dan',
      '--json',
      'request',
      '--resource',
      'clinic-db',
      '--role',
      'analyst-encounters',
      '--duration',
      '20m',
      '--purpose',
      'HQUALIMP',
      '--justification',
      'Readmission review, ticket QA-7',
      '--patient',
      'MRN-DEMO-0001',
      '--patient',
      'MRN-DEMO-0002',
    );
    assert.equal(request.code, 0, request.stderr);
    const pending = JSON.parse(request.stdout) as { id: string; status: string; patientIds: string[] };
    assert.equal(pending.status, 'pending');
    assert.deepEqual(pending.patientIds, ['MRN-DEMO-0001', 'MRN-DEMO-0002']);

    const self = await cli('dan', 'approve', pending.id);
    assert.equal(self.code, 4, 'self-approval is refused with the "forbidden" exit code');
    assert.match(self.stderr, /approval\.self/);

    const approved = await cli('carol', 'approve', pending.id, '--comment', 'fine');
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /: active/);

    const grants = await cli('dan', '--json', 'grants', '--status', 'active');
    assert.ok(
      (JSON.parse(grants.stdout) as { items: { id: string }[] }).items.some((g) => g.id === pending.id),
    );
    const table = await cli('dan', 'grants');
    assert.match(table.stdout, /^ID\s+STATUS\s+REQUESTER/m);

    // Paging: the first page says how to ask for the next one, and that cursor works.
    const second = await cli(
      'dan',
      'request',
      '--resource',
      'clinic-db',
      '--role',
      'analyst-encounters',
      '--purpose',
      'HQUALIMP',
      '--justification',
      'Second readmission review, ticket QA-8',
      '--patient',
      'MRN-DEMO-0001',
    );
    assert.equal(second.code, 0, second.stderr);
    const first = await cli('dan', 'requests', '--limit', '1');
    assert.equal(first.code, 0, first.stderr);
    const cursor = /more: phigate requests --limit 1 --cursor (\S+)/.exec(first.stderr)?.[1];
    assert.ok(cursor, `${first.stdout}\n${first.stderr}`);
    const next = await cli('dan', '--json', 'requests', '--limit', '1', '--cursor', cursor);
    assert.equal(next.code, 0, next.stderr);
    const [one] = (JSON.parse(next.stdout) as { items: { id: string }[] }).items;
    assert.ok(one && !first.stdout.includes(one.id), 'the second page holds another request');
  });

  it('uses documented exit codes: not signed in 3, not found 5, usage 2, unreachable 7', async () => {
    assert.equal((await cli('nobody', 'roles')).code, 3);
    await cli('dan', 'login', '--dev-user', 'dan');
    assert.equal((await cli('dan', 'show', '00000000-0000-4000-8000-000000000000')).code, 5);
    assert.equal((await cli('dan', 'request', '--role', 'x')).code, 2);
    assert.equal(
      (await runCli(['roles', '--token', 'x'], { PHIGATE_API_URL: 'http://127.0.0.1:9' })).code,
      7,
    );
    // A demo user the development issuer refuses ends the sign-in at once, not when the device code expires.
    const refused = await runCli(['login', '--dev-user', 'mallory'], as('mallory'), 20_000);
    assert.equal(refused.code, 9, refused.stderr);
    assert.match(refused.stderr, /refused demo user mallory/);

    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes:/);
  });

  it('escapes hostile text from the server before printing it (ATTACKS 16, 38)', async () => {
    await cli('dan', 'login', '--dev-user', 'dan');
    const hostile = 'Review\r\n2026-01-01 INFO access approved by admin\u001b[2J\u202eevil';
    const created = await cli(
      'dan',
      '--json',
      'request',
      '--resource',
      'clinic-db',
      '--role',
      'analyst-encounters',
      '--purpose',
      'HQUALIMP',
      '--justification',
      hostile,
      '--patient',
      'MRN-DEMO-0003',
    );
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    const shown = await cli('dan', 'show', id);
    assert.equal(shown.code, 0);
    // eslint-disable-next-line no-control-regex -- asserting their absence
    assert.doesNotMatch(shown.stdout, /[\r\u001b\u202e]|\n2026-01-01 INFO/);
    assert.match(shown.stdout, /\\u000d\\u000a2026-01-01 INFO/);
  });

  it('checks and tests policies offline, pointing at the line to fix', async () => {
    const example = path.join(REPO_ROOT, 'examples', 'clinic-policy.yaml');
    const ok = await runCli(['policy', 'check', example]);
    assert.equal(ok.code, 0, ok.stderr);
    const tests = await runCli([
      'policy',
      'test',
      example,
      '--cases',
      path.join(REPO_ROOT, 'examples', 'clinic-policy.tests.yaml'),
    ]);
    assert.equal(tests.code, 0, tests.stdout);
    assert.match(tests.stdout, /\d+ passed, 0 failed/);

    const broken = path.join(dir, 'broken.yaml');
    const text = readFileSync(example, 'utf8').replace('approval: one-lead', 'approval: nobody');
    writeFileSync(broken, text);
    const line = text.split('\n').findIndex((l) => l.includes('approval: nobody')) + 1;
    const bad = await runCli(['policy', 'check', broken]);
    assert.equal(bad.code, 8);
    assert.match(
      bad.stderr,
      new RegExp(
        `broken\\.yaml:${line}: roles\\.analyst-encounters\\.approval: unknown approval rule nobody`,
      ),
    );
  });
});
