/**
 * What a newcomer meets when a command goes wrong (issue 14, items 6–8), against a real server: `--json` errors keep
 * the API's reasons as a list, the paging hint keeps the flags, and each mistake gets a message that says what is
 * wrong and what is accepted instead of a raw validator message or a misleading one.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoPolicy } from '../demo/demo.js';
import type { RunningPhigate } from '../server/start.js';
import { startPhigate } from '../server/start.js';
import { isPhigateError } from '../lib/errors.js';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import { ANALYST_REQUEST, runCli, REPO_ROOT } from '../../test/support/cli.js';

describe('CLI messages', () => {
  let server: TestPhigate;
  let phigate: RunningPhigate;
  const tokens: Record<string, string> = {};
  const as = (user: string): Record<string, string> => ({
    PHIGATE_API_URL: phigate.url,
    PHIGATE_TOKEN: tokens[user]!,
  });
  const request = (justification: string) => [...ANALYST_REQUEST, '--justification', justification];

  before(async () => {
    server = await startTestPhigate({ policy: demoPolicy() });
    phigate = server.phigate;
    for (const user of ['dan', 'carol']) tokens[user] = await phigate.mintDevToken!(user);
  });
  after(() => server.stop());

  it('keeps the reasons of a refusal as a list with --json', async () => {
    // Over the role's maximum and a purpose the role does not allow: two reasons.
    const args = request('two problems at once');
    args[6] = 'TREAT';
    const r = await runCli(['--json', ...args, '--duration', '9h'], as('dan'));
    assert.notEqual(r.code, 0);
    const err = JSON.parse(r.stderr) as { error: string; code: string; reasons: { code: string }[] };
    assert.ok(err.reasons.length >= 2, r.stderr);
    assert.ok(err.reasons.every((x) => typeof x.code === 'string'));
    assert.doesNotMatch(err.error, /\n/, 'the reasons are not folded into the error string');
  });

  it('prints a paging hint that keeps the filters', async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await runCli(request(`Readmission review, page ${i}`), as('dan'))).code, 0);
    const first = await runCli(
      ['requests', '--scope', 'approvable', '--status', 'pending', '--limit', '2'],
      as('carol'),
    );
    assert.equal(first.code, 0, first.stderr);
    const hint = /^more: phigate (.*)$/m.exec(first.stderr)?.[1];
    assert.ok(hint, first.stderr);
    assert.match(hint, /^requests --scope approvable --status pending --limit 2 --cursor \S+$/);
    const next = await runCli(hint.split(' '), as('carol'));
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /pending/);
  });

  it('names what is wrong and what is accepted', async () => {
    const scope = await runCli(['requests', '--scope', 'everything'], as('dan'));
    assert.equal(scope.code, 2);
    assert.match(scope.stderr, /mine, approvable, all/);
    const api = await fetch(new URL('/v1/requests?scope=everything', phigate.url), {
      headers: { authorization: `Bearer ${tokens['dan']}` },
    });
    assert.match(((await api.json()) as { detail: string }).detail, /allowed values: mine, approvable, all/);

    const show = await runCli(['show', 'not-a-uuid'], as('dan'));
    assert.equal(show.code, 2);
    assert.match(show.stderr, /not-a-uuid is not a request id: ids are UUIDs/);
    const approve = await runCli(['approve', '<request-id>'], as('carol'));
    assert.match(approve.stderr, /<request-id> is not a request id/);

    const bogus = await runCli(['request', '--bogus'], as('dan'));
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /unknown option '--bogus'/);
    const missing = await runCli(['request', '--resource', 'clinic-db'], as('dan'));
    assert.match(missing.stderr, /required option\(s\) not specified: --role <name>, --purpose <code>/);

    const scheme = await runCli(['--api', 'localhost:38740', 'whoami'], {});
    assert.equal(scheme.code, 2);
    assert.match(scheme.stderr, /--api localhost:38740 is not an http\(s\) URL: .* http:\/\/localhost:38740/);
  });

  it('lists the Safe Harbor kinds for an unknown PHI kind, and says why a policy file cannot be read', async () => {
    const file = path.join(server.dir, 'bad-kind.yaml');
    writeFileSync(file, demoPolicy().source.replace(/birth_date: \w+/, 'birth_date: birthday'));
    const bad = await runCli(['policy', 'check', file]);
    assert.equal(bad.code, 8, bad.stderr);
    assert.match(bad.stderr, /birth_date: not a Safe Harbor kind: use one of .*dates/);

    const gone = await runCli(['policy', 'check', path.join(server.dir, 'nope.yaml')]);
    assert.match(gone.stderr, /cannot read .*nope\.yaml: no such file/);
    await assert.rejects(
      startPhigate({
        env: {
          PHIGATE_POLICY_FILE: path.join(REPO_ROOT, 'nope.yaml'),
          PHIGATE_DATABASE_URL: 'postgres://x@127.0.0.1:1/x',
        },
      }),
      (err: unknown) =>
        isPhigateError(err) && /no such file.*policy\.file.*PHIGATE_POLICY_FILE/.test(err.message),
    );
  });
});
