/**
 * Witnesses keep copies of signed checkpoints outside the database, so that rewriting the whole database — events,
 * tree and checkpoint table together — is still caught: the rewritten log cannot reproduce a root a witness kept.
 *
 * The exchange format is text, one entry per checkpoint, in the style of a signed note:
 *
 *     <checkpoint body: 5 lines>
 *     <empty line>
 *     — <key id> <base64 Ed25519 signature>
 *
 * A file witness appends entries (O_APPEND, fsync); an HTTP witness receives each entry as a text/plain POST and
 * returns every entry it keeps, concatenated, on GET.
 */
import { open, readFile } from 'node:fs/promises';

export interface WitnessEntry {
  readonly body: string;
  readonly keyId: string;
  readonly signature: string;
}

export interface Witness {
  /** `file:<path>` or the URL: how reports name it. */
  readonly name: string;
  publish(entry: WitnessEntry): Promise<void>;
  /** Every entry kept; unreadable content is reported, not skipped silently. */
  read(): Promise<{ entries: WitnessEntry[]; problems: string[] }>;
}

const ENTRY = /phigate-audit-checkpoint\/v1\n(?:[^\n]*\n){4}\n— (\S+) (\S+)\n/g;

export function formatWitnessEntry(entry: WitnessEntry): string {
  return `${entry.body}\n— ${entry.keyId} ${entry.signature}\n`;
}

export function parseWitnessEntries(text: string): { entries: WitnessEntry[]; problems: string[] } {
  const entries: WitnessEntry[] = [];
  const problems: string[] = [];
  let at = 0;
  for (const m of text.matchAll(ENTRY)) {
    if (m.index !== at) problems.push(`unreadable content at byte ${at}`);
    const whole = m[0];
    entries.push({ body: whole.slice(0, whole.indexOf('\n\n— ') + 1), keyId: m[1]!, signature: m[2]! });
    at = m.index + whole.length;
  }
  if (at !== text.length) problems.push(`unreadable content at byte ${at}`);
  return { entries, problems };
}

export function fileWitness(file: string): Witness {
  return {
    name: `file:${file}`,
    async publish(entry) {
      const handle = await open(file, 'a', 0o644);
      try {
        await handle.appendFile(formatWitnessEntry(entry));
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
    async read() {
      try {
        return parseWitnessEntries(await readFile(file, 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
          return { entries: [], problems: ['no such file'] };
        throw err;
      }
    },
  };
}

export function httpWitness(url: string, options: { timeoutMs?: number } = {}): Witness {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    name: url,
    async publish(entry) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: formatWitnessEntry(entry),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new Error(`witness ${url} answered ${response.status}`);
    },
    async read() {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) return { entries: [], problems: [`GET answered ${response.status}`] };
      return parseWitnessEntries(await response.text());
    },
  };
}
