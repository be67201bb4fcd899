/**
 * PostgreSQL refuses to run as root. When phigate is root (a container, a fresh VM), the embedded server runs as a
 * system user instead — created when missing — and its cluster lives where that user can reach it: a clone in
 * root's home (mode 0700) cannot be entered by anyone else, so the cluster moves to a directory under a
 * world-traversable root, and the data directory keeps a pointer to it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';

export interface ServerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Where relocated clusters live by default (root only; /var/lib is world-traversable on every distribution). */
export const DEFAULT_RELOCATION_ROOT = '/var/lib/phigate/embedded';
/** File in the data directory naming the relocated cluster's directory. */
export const CLUSTER_POINTER = 'cluster-location';

function lookUp(name: string): ServerUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    const gid = Number(execFileSync('id', ['-g', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** Debian/RHEL `useradd`, else BusyBox/Alpine `adduser`: a system account without a home or a login shell. */
function createSystemUser(name: string): void {
  const attempts: [string, string[]][] = [
    ['useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name]],
    ['adduser', ['-S', '-D', '-H', '-s', '/sbin/nologin', name]],
  ];
  const failures: string[] = [];
  for (const [cmd, args] of attempts) {
    try {
      execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      return;
    } catch (err) {
      failures.push(`${cmd}: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  throw new Error(
    `phigate runs as root and the embedded PostgreSQL cannot; creating the "${name}" system user failed ` +
      `(${failures.join('; ')}): create it yourself (useradd --system ${name}) or run phigate as a regular user`,
  );
}

/** The user the server runs as: none when we are not root; as root, `name`, created when missing. */
export function serverUser(name: string, notice: (message: string) => void): ServerUser | undefined {
  if (userInfo().uid !== 0) return undefined;
  const found = lookUp(name);
  if (found) return found;
  createSystemUser(name);
  const created = lookUp(name);
  if (!created) throw new Error(`created the "${name}" system user but cannot look it up`);
  notice(`created the "${name}" system user: the embedded PostgreSQL runs as it (PostgreSQL refuses root)`);
  return created;
}

/** The first directory above `dir` that `user` cannot enter, if any. */
export function blockingAncestor(dir: string, user: ServerUser): string | undefined {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = statSync(d);
    const ok =
      st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) return d;
    if (d === path.dirname(d)) return undefined;
  }
}

/**
 * The directory that holds the cluster when `dataDir` cannot be entered by the server's user: one per data
 * directory (named by a hash of its path, so two clones keep two clusters), root-owned and traversable, with the
 * cluster inside owned by the server's user. Says where once, when it is first made.
 */
export function relocatedHome(
  dataDir: string,
  user: ServerUser,
  root: string,
  notice: (message: string) => void,
): string {
  const pointer = path.join(dataDir, CLUSTER_POINTER);
  const named = existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : '';
  const home = named || path.join(root, createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
  const fresh = !existsSync(home);
  mkdirSync(home, { recursive: true, mode: 0o711 });
  chmodSync(home, 0o711);
  const blocker = blockingAncestor(path.join(home, 'cluster'), user);
  if (blocker) {
    throw new Error(
      `the embedded PostgreSQL runs as the "${user.name}" user, which can enter neither the data directory ` +
        `${dataDir} nor ${blocker}: run phigate as a regular user, or make ${blocker} traversable (chmod o+x)`,
    );
  }
  if (!named) writeFileSync(pointer, `${home}\n`, { mode: 0o600 });
  if (fresh) {
    notice(
      `the "${user.name}" user cannot enter ${dataDir}, so the embedded PostgreSQL cluster lives in ${home} ` +
        `(recorded in ${pointer}); delete both to start afresh`,
    );
  }
  return home;
}
