/**
 * Runs test/support/audit-load.ts as a real child process against a database and collects the sequence numbers it
 * reports as acknowledged, until it has `acks` of them; the caller then kills something.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateHmacKeyText, generateSigningKeyPem } from '../../src/audit/audit-keys.js';
import { loadSigningKey } from '../../src/audit/checkpoint.js';
import { REPO_ROOT } from './cli.js';

export interface LoadUnderWay {
  readonly child: ChildProcess;
  /** Acknowledged sequence numbers so far (keeps growing until the child dies). */
  readonly acked: readonly number[];
  /** The key the child signs checkpoints with. */
  readonly publicKey: KeyObject;
  /** Resolves with the signal when the child has exited. */
  readonly exited: Promise<NodeJS.Signals | null>;
}

export async function startAuditLoad(databaseUrl: string, dir: string, acks: number): Promise<LoadUnderWay> {
  const hmacFile = path.join(dir, 'hmac.key');
  const signingFile = path.join(dir, 'signing.pem');
  writeFileSync(hmacFile, generateHmacKeyText(), { mode: 0o600 });
  const pem = generateSigningKeyPem();
  writeFileSync(signingFile, pem, { mode: 0o600 });
  const script = path.join(REPO_ROOT, 'test', 'support', 'audit-load.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, databaseUrl, hmacFile, signingFile], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked: number[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('close', (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
      if (acked.length >= acks) resolve();
    });
    void exited.then(() => reject(new Error(`the load process ended by itself: ${stderr}`)));
  });
  return { child, acked, publicKey: createPublicKey(loadSigningKey(pem)), exited };
}
