/**
 * Runs the real `psql` client for the demo and the tests: connection settings and password in its environment
 * (never on its command line), output captured, a time limit. `psqlAvailable` tells whether it is installed.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface PsqlEndpoint {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly sslmode: string;
}

export interface PsqlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function psqlAvailable(): boolean {
  return spawnSync('psql', ['--version'], { stdio: 'ignore' }).status === 0;
}

function environment(e: PsqlEndpoint): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: e.host,
    PGPORT: String(e.port),
    PGDATABASE: e.database,
    PGUSER: e.user,
    PGPASSWORD: e.password,
    PGSSLMODE: e.sslmode,
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'phigate-demo',
  };
}

const ARGS = ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];

/** `psql -c SQL`, resolving with its exit code and output. */
export function runPsql(e: PsqlEndpoint, sql: string, timeoutMs = 30_000): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      [...ARGS, '-c', sql],
      { env: environment(e), timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A psql session left running (e.g. a long query), to watch what happens to it; `done` resolves at its exit. */
export function startPsql(e: PsqlEndpoint, sql: string): { child: ChildProcess; done: Promise<PsqlResult> } {
  const child = spawn('psql', [...ARGS, '-c', sql], {
    env: environment(e),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<PsqlResult>((resolve) =>
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr })),
  );
  return { child, done };
}
