/**
 * The README's own order (issue 14, items 1 and 2): the interactive demo serves, someone makes a grant by hand, and
 * then `phigate demo --script` is run — while the demo still serves. The script plays in its own data directory, so
 * the hand-made grant's role does not fail its "nothing of the grant remains" step, and it does not touch the
 * serving demo's PostgreSQL (it used to stop it as an "orphan"). A second interactive demo on the same directory is
 * refused, naming the one that holds it.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { runCli, spawnCli } from '../support/cli.js';

describe('demo --script beside an interactive demo', () => {
  let dataDir: string;
  let demo: ChildProcess;
  let apiUrl: string;
  let exited: Promise<unknown>;
  let env: Record<string, string>;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'phigate-demo-both-'));
    chmodSync(dataDir, 0o711);
    env = {
      PHIGATE_DATA_DIR: dataDir,
      PHIGATE_PORT: '0',
      PHIGATE_GATEWAY_PORT: '0',
      PHIGATE_TOKEN_CACHE: path.join(dataDir, 'tokens.json'),
    };
    demo = spawnCli(['demo'], env);
    exited = new Promise((resolve) => demo.on('close', resolve));
    apiUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      demo.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^API: (\S+)/m.exec(out);
        if (m && out.includes('Press Ctrl-C')) resolve(m[1]!);
      });
      let err = '';
      demo.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      void exited.then(() => reject(new Error(`the demo ended: ${out}\n${err}`)));
    });
  });
  after(async () => {
    demo.kill('SIGINT');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a second demo on the same data directory, naming the one that holds it', async () => {
    const second = await runCli(['demo'], env);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, new RegExp(`in use by another phigate \\(pid ${demo.pid}\\b`));
    const ready = await fetch(new URL('/readyz', apiUrl));
    assert.equal(ready.status, 200, 'the serving demo is untouched');
  });

  it('plays the script after a grant made by hand, while the demo serves', async () => {
    const as = { ...env, PHIGATE_API_URL: apiUrl };
    assert.equal((await runCli(['login', '--dev-user', 'olivia'], as)).code, 0);
    const glass = await runCli(
      [
        '--json',
        'request',
        '--resource',
        'clinic-db',
        '--role',
        'oncall-breakglass',
        '--purpose',
        'BTG',
        '--justification',
        'Unresponsive patient in the ED',
      ],
      as,
    );
    assert.equal(glass.code, 0, glass.stderr);
    assert.equal((JSON.parse(glass.stdout) as { status: string }).status, 'active');

    const script = await runCli(['demo', '--script', '--grant-seconds', '4'], env);
    assert.equal(script.code, 0, `demo --script failed:\n${script.stdout}\n${script.stderr}`);
    assert.match(script.stdout, new RegExp(`own state in ${path.join(dataDir, 'script')}`));
    assert.doesNotMatch(script.stdout, /✘/);
    const ready = await fetch(new URL('/readyz', apiUrl));
    assert.equal(ready.status, 200, 'the serving demo is untouched');
  });
});
