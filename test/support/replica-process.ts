/**
 * A phigate replica in a process of its own, for tests that must kill one with SIGKILL (an in-process replica cannot
 * die without taking the test with it). Run as a script, it starts phigate from the configuration given in its
 * environment, prints `READY <api url> <gateway port>`, then one `TOKEN <user> <jwt>` line for each demo user named
 * in PHIGATE_TEST_MINT (tokens of its own development issuer, which its API trusts), and serves until killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPhigate } from '../../src/server/start.js';

export interface ReplicaProcess {
  readonly url: string;
  readonly gatewayPort: number;
  /** Development tokens of this replica's issuer, by user. */
  readonly tokens: ReadonlyMap<string, string>;
  readonly child: ChildProcess;
  /** Resolves with the signal or exit code once the process is gone. */
  readonly exited: Promise<string>;
  kill(signal: NodeJS.Signals): Promise<string>;
}

export interface ReplicaProcessOptions {
  readonly configPath: string;
  readonly env: Readonly<Record<string, string>>;
  readonly mint: readonly string[];
}

export async function startReplicaProcess(o: ReplicaProcessOptions): Promise<ReplicaProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: {
      ...process.env,
      ...o.env,
      PHIGATE_TEST_REPLICA_CONFIG: o.configPath,
      PHIGATE_TEST_MINT: o.mint.join(','),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? String(code))),
  );
  const tokens = new Map<string, string>();
  const ready = await new Promise<{ url: string; gatewayPort: number }>((resolve, reject) => {
    let out = '';
    let started: { url: string; gatewayPort: number } | undefined;
    const onData = (c: Buffer): void => {
      out += c.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const [word, a, b] = out.slice(0, nl).split(' ');
        out = out.slice(nl + 1);
        if (word === 'READY') started = { url: a!, gatewayPort: Number(b) };
        if (word === 'TOKEN') tokens.set(a!, b!);
        if (started !== undefined && tokens.size === o.mint.length) {
          child.stdout.off('data', onData);
          resolve(started);
        }
      }
    };
    child.stdout.on('data', onData);
    void exited.then((how) => reject(new Error(`the replica process exited (${how}) before it was ready`)));
  });
  return {
    ...ready,
    tokens,
    child,
    exited,
    kill(signal) {
      child.kill(signal);
      return exited;
    },
  };
}

if (
  process.env.PHIGATE_TEST_REPLICA_CONFIG !== undefined &&
  process.argv[1] === fileURLToPath(import.meta.url)
) {
  const phigate = await startPhigate({
    configPath: process.env.PHIGATE_TEST_REPLICA_CONFIG,
    port: 0,
    dev: true,
    logLevel: process.env.PHIGATE_TEST_LOG_LEVEL ?? 'silent',
    env: process.env,
  });
  process.stdout.write(`READY ${phigate.url} ${phigate.gateway?.port ?? 0}\n`);
  for (const user of (process.env.PHIGATE_TEST_MINT ?? '').split(',').filter(Boolean))
    process.stdout.write(`TOKEN ${user} ${await phigate.mintDevToken!(user)}\n`);
  const stop = (): void => void phigate.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
