/**
 * A real phigate server for a test file: its own throw-away database on the test PostgreSQL, its own state
 * directory (development-issuer key), the development issuer on, and a port of its own.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPhigate, type RunningPhigate } from '../../src/server/start.js';
import { createEmptyDatabase } from './database.js';
import { startReplicaProcess, type ReplicaProcess } from './replica-process.js';

export interface TestPhigate {
  readonly phigate: RunningPhigate;
  /** A directory the test may use; removed by stop(). */
  readonly dir: string;
  /** Starts another phigate on the same store, state directory and configuration (a second replica). */
  startReplica(): Promise<RunningPhigate>;
  /** The same, in a process of its own (one a test may kill), with development tokens for `mint`'s users. */
  startReplicaProcess(mint: readonly string[]): Promise<ReplicaProcess>;
  stop(): Promise<void>;
}

export interface TestPhigateOptions {
  readonly policy?: { readonly source: string; readonly sourceName: string };
  /** phigate.yaml text; relative paths in it resolve against `dir`. */
  readonly config?: string;
  /** Files to write into `dir` before starting (e.g. a policy file the config names). */
  readonly files?: Readonly<Record<string, string>>;
}

export async function startTestPhigate(options: TestPhigateOptions = {}): Promise<TestPhigate> {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-test-'));
  chmodSync(dir, 0o711); // when tests run as root, an embedded server's user must traverse it
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(path.join(dir, name), text);
  if (options.config !== undefined) writeFileSync(path.join(dir, 'phigate.yaml'), options.config);
  const database = await createEmptyDatabase();
  const configPath = path.join(dir, 'phigate.yaml');
  const env = { PHIGATE_DATABASE_URL: database.url, PHIGATE_DATA_DIR: path.join(dir, 'state') };
  try {
    const start = () =>
      startPhigate({
        ...(options.config !== undefined ? { configPath } : {}),
        port: 0,
        dev: true,
        // PHIGATE_TEST_LOG_LEVEL=error shows why a test's phigate refused something (its logs are silent otherwise).
        logLevel: process.env.PHIGATE_TEST_LOG_LEVEL ?? 'silent',
        ...(options.policy ? { policy: options.policy } : {}),
        env,
      });
    const phigate = await start();
    return {
      phigate,
      dir,
      startReplica: start,
      startReplicaProcess(mint) {
        if (options.config === undefined || options.policy !== undefined)
          throw new Error('a replica process needs the configuration and policy in files');
        return startReplicaProcess({ configPath, env, mint });
      },
      async stop() {
        await phigate.stop();
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
