/**
 * ATTACKS 19 and the embedded store's lifecycle, with real processes: phigate is killed (SIGKILL) while a grant is
 * due to expire; on restart, that grant is expired before the server reports ready, and SIGTERM stops phigate
 * and its embedded PostgreSQL cleanly.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDevIssuer } from '../../src/identity/dev-issuer.js';
import { spawnCli } from '../support/cli.js';

const POLICY = `
version: 1
resources: { db: { kind: postgres } }
approvalRules:
  auto: { autoApprove: [ { groups: [support] } ], approvers: { groups: [clinical-leads] } }
roles:
  quick:
    resource: db
    eligibleGroups: [support]
    duration: { default: 2s, max: 1h }
    purposes: [HOPERAT]
    approval: auto
`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function firstReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`phigate exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('phigate did not become ready');
}

describe('restart after a crash', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-restart-'));
    chmodSync(dir, 0o711);
    writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
    writeFileSync(path.join(dir, 'phigate.yaml'), 'policy:\n  file: policy.yaml\nlog:\n  level: warn\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('expires grants that fell due while phigate was down before serving, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { PHIGATE_DATA_DIR: path.join(dir, 'state') };
    const args = ['serve', '--dev', '--config', path.join(dir, 'phigate.yaml'), '--port', String(port)];

    const first = spawnCli(args, env);
    await firstReady(url, first);
    // Same key file and issuer URL as the server's development issuer: its tokens verify there.
    const issuer = await createDevIssuer({
      baseUrl: url,
      dataDir: env.PHIGATE_DATA_DIR,
      audience: 'phigate',
      logger: { warn: () => undefined, info: () => undefined },
    });
    const token = await issuer.mintToken('alice');
    const created = await fetch(`${url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        resource: 'db',
        role: 'quick',
        duration: '2s',
        purpose: 'HOPERAT',
        justification: 'Crash-restart test of grant expiry',
      }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const grant = (await created.json()) as { id: string; status: string; expiresAt: string };
    assert.equal(grant.status, 'active');

    first.kill('SIGKILL'); // no chance to expire anything, stop PostgreSQL or clean up
    await exited(first);
    await new Promise((r) => setTimeout(r, Date.parse(grant.expiresAt) - Date.now() + 500));

    const second = spawnCli(args, env);
    await firstReady(url, second);
    const seen = await fetch(`${url}/v1/requests/${grant.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await seen.json()) as { status: string; endedAt: string };
    assert.equal(body.status, 'expired', 'the overdue grant must be expired by the time phigate is ready');
    assert.ok(Date.parse(body.endedAt) >= Date.parse(grant.expiresAt));

    second.kill('SIGTERM');
    const stopped = await exited(second);
    assert.deepEqual(stopped, { code: 0, signal: null });
  });
});
