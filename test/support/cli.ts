/** Runs the real `phigate` command (from source, through tsx) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const MAIN = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function spawnCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 120_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The demo's analyst request (a synthetic patient), without its justification: `[...ANALYST_REQUEST, '--justification', …]`. */
export const ANALYST_REQUEST: readonly string[] = [
  'request',
  '--resource',
  'clinic-db',
  '--role',
  'analyst-encounters',
  '--purpose',
  'HQUALIMP',
  '--patient',
  'MRN-DEMO-0007',
];
