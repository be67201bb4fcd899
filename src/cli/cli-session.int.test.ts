/**
 * `--version`, `status` and `token` against a real server with real tokens (issue 14 item 10).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoPolicy } from '../demo/demo.js';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import { ANALYST_REQUEST, REPO_ROOT, runCli } from '../../test/support/cli.js';

describe('phigate status, token and --version', () => {
  let server: TestPhigate;
  const tokens: Record<string, string> = {};
  const as = (user: string): Record<string, string> => ({
    PHIGATE_API_URL: server.phigate.url,
    PHIGATE_TOKEN: tokens[user]!,
    PHIGATE_TOKEN_CACHE: path.join(server.dir, `${user}-tokens.json`),
  });

  before(async () => {
    server = await startTestPhigate({ policy: demoPolicy() });
    for (const user of ['dan', 'carol']) tokens[user] = await server.phigate.mintDevToken!(user);
  });
  after(() => server.stop());

  it('prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('prints the token the CLI would send, and nothing else', async () => {
    const r = await runCli(['token'], as('dan'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${tokens['dan']}\n`);
  });

  it('shows who you are, token expiry and what awaits your approval', async () => {
    const ask = await runCli(['--json', ...ANALYST_REQUEST, '--justification', 'Status test'], as('dan'));
    const id = (JSON.parse(ask.stdout) as { id: string }).id;
    const dan = await runCli(['status'], as('dan'));
    assert.equal(dan.code, 0, dan.stderr);
    assert.match(dan.stdout, /<http[^>]*#dan>/);
    assert.match(dan.stdout, /token expires {2}\d\d:\d\d .*, in (59|60) min|token expires {2}.*in 1 h/);
    assert.match(dan.stdout, /Nothing awaits your approval/);
    const carol = await runCli(['status'], as('carol'));
    assert.match(carol.stdout, new RegExp(`Awaiting your approval[\\s\\S]*${id}`));
    const json = JSON.parse((await runCli(['--json', 'status'], as('carol'))).stdout) as {
      awaitingYourApproval: { id: string }[];
    };
    assert.ok(json.awaitingYourApproval.some((r) => r.id === id));
  });
});
