/**
 * One owner per data directory. Two phigates on one embedded cluster break each other: the second used to stop the
 * first one's PostgreSQL as an "orphan". The owner writes its pid into `owner.lock` (created exclusively); a second
 * start reads it, and if that process is alive it refuses, naming the pid and what to do. A lock whose process is
 * gone (phigate was SIGKILLed) is stale and taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PhigateError } from '../lib/errors.js';

export const LOCK_FILE = 'owner.lock';

export interface DataDirLock {
  /**
   * Who held the directory before: nobody, a process that died without releasing it (its PostgreSQL may still be
   * running, an orphan to stop), or this very process (a server restarted in-process).
   */
  readonly previous: 'none' | 'stale' | 'self';
  release(): void;
}

interface LockContent {
  readonly pid: number;
  readonly startedAt: string;
  readonly command: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; it still holds the directory.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockContent>;
    return typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0
      ? {
          pid: parsed.pid,
          startedAt: String(parsed.startedAt ?? '?'),
          command: String(parsed.command ?? '?'),
        }
      : undefined;
  } catch {
    return undefined; // absent or half-written: nobody we can name holds it
  }
}

function tryCreate(file: string, content: LockContent): boolean {
  try {
    writeFileSync(file, `${JSON.stringify(content)}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Takes the data directory for this process or throws `data-dir.in-use`. Re-entrant within one process (a test or
 * the test runner may restart its server on the same directory).
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE);
  const mine: LockContent = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    command: path.basename(process.argv[1] ?? process.argv0),
  };
  let previous: DataDirLock['previous'] = 'none';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, mine)) return handle(file, previous);
    const holder = readLock(file);
    if (holder?.pid === process.pid) return handle(file, 'self');
    if (holder && isAlive(holder.pid)) {
      throw new PhigateError(
        'conflict',
        'data-dir.in-use',
        `the data directory ${dataDir} is in use by another phigate (pid ${holder.pid}, ${holder.command}, ` +
          `since ${holder.startedAt}): stop that one first (Ctrl-C in its terminal, or kill ${holder.pid}), ` +
          'or give this one its own directory (PHIGATE_DATA_DIR=DIR)',
        { pid: holder.pid, dataDir },
      );
    }
    // Stale (its process is gone) or unreadable: remove it and try again; a racing starter loses on 'wx'.
    rmSync(file, { force: true });
    previous = 'stale';
  }
  throw new PhigateError('conflict', 'data-dir.in-use', `could not take the lock ${file}`, { dataDir });
}

function handle(file: string, previous: DataDirLock['previous']): DataDirLock {
  return {
    previous,
    release() {
      // Only our own lock: a directory taken over by someone else after we were presumed dead stays theirs.
      if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
    },
  };
}
