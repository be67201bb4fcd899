/**
 * What the gateway and masking benchmarks share: running pgbench against an endpoint, reading its TPS, and asking a
 * phigate in the same process for grants and connections through its real API.
 */
import { execFile, spawnSync } from 'node:child_process';
import type { RunningPhigate } from '../../src/server/start.js';
import { percentile } from '../bench-db.js';

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

export function need(command: string): void {
  if (spawnSync(command, ['--version'], { stdio: 'ignore' }).status !== 0)
    throw new Error(
      `${command} is not installed (Debian: apt-get install ${command === 'pgbouncer' ? 'pgbouncer' : 'postgresql-contrib'})`,
    );
}

export function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${command} failed: ${stderr || err.message}`)) : resolve({ stdout, stderr }),
    ),
  );
}

export function pgEnv(e: Endpoint, database: string): NodeJS.ProcessEnv {
  return {
    PGHOST: e.host,
    PGPORT: String(e.port),
    PGUSER: e.user,
    PGPASSWORD: e.password,
    PGSSLMODE: 'require',
    PGDATABASE: database,
  };
}

export async function pgbench(e: Endpoint, database: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await run('pgbench', ['-n', ...args], pgEnv(e, database));
  return stdout + stderr;
}

export function tpsOf(output: string): number {
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(output);
  if (!m) throw new Error(`no tps in pgbench output:\n${output}`);
  return Number(m[1]);
}

export const median = (xs: readonly number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

export const fmt = (n: number, d = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export async function api(
  p: Pick<RunningPhigate, 'url'>,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(new URL(route, p.url), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function grant(
  p: Pick<RunningPhigate, 'url'>,
  token: string,
  request: { resource: string; role: string; duration: string; patientIds?: readonly string[] },
): Promise<{ id: string; expiresAt: number }> {
  const r = await api(p, token, 'POST', '/v1/requests', {
    ...request,
    purpose: 'HOPERAT',
    justification: 'Benchmark on synthetic data',
  });
  return { id: r.id as string, expiresAt: new Date(r.expiresAt as string).getTime() };
}

export async function connection(
  p: Pick<RunningPhigate, 'url'>,
  token: string,
  resource: string,
  grantId: string,
  direct = false,
) {
  return (await api(p, token, 'POST', '/v1/connections', { resource, grantId, direct })) as {
    gateway: Endpoint;
    direct?: Endpoint;
  };
}
