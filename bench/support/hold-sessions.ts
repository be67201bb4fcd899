/** Holds gateway sessions from another process (bench/support/gateway-sessions.ts), for the gateway benchmarks. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Opens gateway sessions in a child process; resolves once all are connected. */
export function holdSessions(
  gateway: { host: string; port: number },
  user: string,
  sessions: { grant: number; password: string }[],
) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'gateway-sessions.ts')],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const closed: { grant: number; closedAt: number }[] = [];
  let onReady!: () => void;
  let onDone!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const done = new Promise<void>((r) => (onDone = r));
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l === 'READY') onReady();
    else if (l === 'DONE') onDone();
    else if (l.startsWith('{')) closed.push(JSON.parse(l) as { grant: number; closedAt: number });
  });
  child.stdin.write(
    `${JSON.stringify({ ...gateway, database: 'bench', user, intervalMs: 1000, sessions })}\n`,
  );
  return { ready, done, closed, stop: () => child.kill('SIGTERM') };
}
