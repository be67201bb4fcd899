/**
 * "An event is acknowledged only after commit; killing the process (SIGKILL) under load loses no acknowledged event
 * and leaves a log that verifies." A real child process appends under load and is really killed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { generateHmacKeyText, generateSigningKeyPem } from '../../src/audit/audit-keys.js';
import { loadSigningKey } from '../../src/audit/checkpoint.js';
import { verifyStore } from '../../src/audit/verify-store.js';
import { buildTree } from '../../src/audit/tree-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { REPO_ROOT } from '../support/cli.js';

describe('audit log under SIGKILL', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-kill-'));
  });
  after(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged event and leaves a log that verifies', async () => {
    const hmacFile = path.join(dir, 'hmac.key');
    const signingFile = path.join(dir, 'signing.pem');
    writeFileSync(hmacFile, generateHmacKeyText(), { mode: 0o600 });
    const pem = generateSigningKeyPem();
    writeFileSync(signingFile, pem, { mode: 0o600 });
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'test', 'support', 'audit-load.ts'),
        db.url,
        hmacFile,
        signingFile,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const acked: number[] = [];
    let stderr = '';
    let buffered = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killed = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        buffered += c.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
        // Kill it mid-flight: thousands acknowledged, many more queued and in transactions.
        if (acked.length >= 3000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('close', () => reject(new Error(`the load process ended by itself: ${stderr}`)));
    });
    assert.equal(await killed, 'SIGKILL');

    const seqs = await sql<{ seq: number }>`select seq from audit_events order by seq`.execute(db.db);
    const stored = new Set(seqs.rows.map((r) => Number(r.seq)));
    const lost = acked.filter((s) => !stored.has(s));
    assert.deepEqual(lost, [], 'every acknowledged event is in the store');
    assert.equal(stored.size, Math.max(...stored), 'sequence numbers have no gaps');

    // A checkpoint the dead process signed, and one signed after, both hold against the recomputed log.
    await buildTree(db.db);
    const key = createPublicKey(loadSigningKey(pem));
    const report = await verifyStore(db.db, { trustedKeys: [key], origin: 'test-audit' });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.ok(report.checkpointsVerified >= 1, 'checkpoints were signed under load');
    assert.ok(report.size >= acked.length);
  });
});
