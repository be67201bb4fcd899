/**
 * The CLI's waiting commands and its machine output, against a real server on real PostgreSQL with real tokens:
 * interactive device sign-in, `request --wait`, JSON errors with exit codes, and terminal-safe `--json`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoPolicy } from '../demo/demo.js';
import type { RunningPhigate } from '../server/start.js';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import { ANALYST_REQUEST, runCli, spawnCli, REPO_ROOT, type CliResult } from '../../test/support/cli.js';

const analyst = ANALYST_REQUEST;

describe('phigate CLI against a running server', () => {
  let server: TestPhigate;
  let dir: string;
  let phigate: RunningPhigate;
  const tokens: Record<string, string> = {};
  const as = (user: string): Record<string, string> => ({
    PHIGATE_API_URL: phigate.url,
    PHIGATE_TOKEN: tokens[user]!,
    PHIGATE_TOKEN_CACHE: path.join(dir, `${user}-tokens.json`),
  });

  const api = async (user: string, method: string, url: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${phigate.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[user]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.json();
  };

  /** Runs a waiting command, and acts (as someone else) once it has created its request. */
  const waitWhile = async (
    args: string[],
    user: string,
    act: (id: string) => Promise<unknown>,
  ): Promise<CliResult> => {
    const child = spawnCli(args, as(user));
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    let acted = false;
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /request (\S+) is pending approval/.exec(stderr);
      if (m?.[1] && !acted) {
        acted = true;
        void act(m[1]);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, signal: null, stdout, stderr };
  };

  before(async () => {
    server = await startTestPhigate({ policy: demoPolicy() });
    phigate = server.phigate;
    dir = server.dir;
    for (const user of ['dan', 'carol', 'chris']) tokens[user] = await phigate.mintDevToken!(user);
  });
  after(() => server.stop());

  it('prints the verification URL and code, waits, and signs in once the person confirms', async () => {
    const child = spawnCli(['login'], {
      PHIGATE_API_URL: phigate.url,
      PHIGATE_TOKEN_CACHE: path.join(dir, 'interactive-tokens.json'),
    });
    let stdout = '';
    let stderr = '';
    let confirmed: Promise<Response> | undefined;
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /Open (\S+)\nand enter the code (\S+)\n/.exec(stderr);
      if (m?.[1] && m[2] && !confirmed) {
        // What the person does in their browser: the development issuer's verification form.
        const page = new URL(m[1]);
        confirmed = fetch(`${page.origin}${page.pathname}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ user_code: m[2], username: 'chris' }).toString(),
        });
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.ok(confirmed, `no URL and code printed:\n${stderr}`);
    assert.equal((await confirmed).status, 200);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /waiting for you to sign in/);
    assert.match(stdout, /Signed in as Dr\. Chris Lead/);
    const whoami = await runCli(['--json', 'whoami'], {
      PHIGATE_API_URL: phigate.url,
      PHIGATE_TOKEN_CACHE: path.join(dir, 'interactive-tokens.json'),
    });
    assert.match((JSON.parse(whoami.stdout) as { id: string }).id, /#chris$/);
  });

  it('waits with --wait until a lead approves, and exits 0 with the active grant', async () => {
    const result = await waitWhile(
      ['--json', ...analyst, '--justification', 'Readmission review, waits', '--wait'],
      'dan',
      (id) => api('carol', 'POST', `/v1/requests/${id}/approve`, { comment: 'go ahead' }),
    );
    assert.equal(result.code, 0, result.stderr);
    const shown = JSON.parse(result.stdout) as { status: string; approvals: { approverName: string }[] };
    assert.equal(shown.status, 'active');
    assert.equal(shown.approvals[0]?.approverName, 'Dr. Carol Lead');
  });

  it('exits 4 when a waited-for request is denied', async () => {
    const result = await waitWhile(
      [...analyst, '--justification', 'Readmission review, denied', '--wait'],
      'dan',
      (id) => api('chris', 'POST', `/v1/requests/${id}/deny`, {}),
    );
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stdout, /: denied/);
    assert.match(result.stderr, /request ended denied/);
  });

  it('reports errors as JSON on stderr with the code and the exit code', async () => {
    const missing = await runCli(['--json', 'show', '00000000-0000-4000-8000-000000000000'], as('dan'));
    assert.equal(missing.code, 5);
    assert.equal(missing.stdout, '');
    assert.deepEqual(JSON.parse(missing.stderr), {
      error: 'no such request (request.not-found)',
      code: 'request.not-found',
      reasons: [],
      exitCode: 5,
    });
    const invalid = await runCli(
      ['--json', ...analyst, '--justification', 'Readmission review', '--duration', '9h'],
      as('dan'),
    );
    assert.equal(invalid.code, 9, invalid.stderr);
    assert.match((JSON.parse(invalid.stderr) as { code: string }).code, /^duration\./);
    const insecure = await runCli(
      ['login', '--issuer', 'http://idp.example.com', '--client-id', 'phigate-cli'],
      as('dan'),
    );
    assert.equal(insecure.code, 9, 'an error from a local module exits by its kind');
    assert.match(insecure.stderr, /refusing to log in over plain http/);
  });

  it('keeps --json output identical as data yet inert on a terminal (ATTACKS 16)', async () => {
    const hostile = 'Review \u202eevil\u2028fake line\u0085 and \u001b]8;;http://x\u0007link';
    const created = (await api('dan', 'POST', '/v1/requests', {
      resource: 'clinic-db',
      role: 'analyst-encounters',
      purpose: 'HQUALIMP',
      justification: hostile,
      patientIds: ['MRN-DEMO-0008'],
    })) as { id: string; justification: string };
    assert.equal(created.justification, hostile);
    const shown = await runCli(['--json', 'show', created.id], as('dan'));
    assert.equal(shown.code, 0, shown.stderr);
    // eslint-disable-next-line no-control-regex -- asserting their absence
    assert.doesNotMatch(shown.stdout.trimEnd(), /[\u0000-\u001f\u007f-\u009f\u202e\u2028]/);
    assert.equal((JSON.parse(shown.stdout) as { justification: string }).justification, hostile);
  });

  it('exits 8 and names the failing case when a policy test fails', async () => {
    const cases = path.join(dir, 'cases.yaml');
    writeFileSync(
      cases,
      [
        'cases:',
        '  - name: analysts are auto-approved (wrong on purpose)',
        "    principal: { id: 'dev#dan', groups: [analysts] }",
        '    request:',
        '      { resource: clinic-db, role: analyst-encounters, duration: 1h, purpose: HQUALIMP,',
        "        justification: 'Readmission review Q3', patientIds: [MRN-DEMO-0001] }",
        '    expect: { outcome: allow }',
        '',
      ].join('\n'),
    );
    const example = path.join(REPO_ROOT, 'examples', 'clinic-policy.yaml');
    const run = await runCli(['policy', 'test', example, '--cases', cases]);
    assert.equal(run.code, 8, run.stderr);
    assert.match(run.stdout, /✘ analysts are auto-approved \(wrong on purpose\)/);
    assert.match(run.stdout, /0 passed, 1 failed/);
  });
});
