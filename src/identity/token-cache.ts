/**
 * The CLI's token cache: one access token per API URL in a JSON file only its owner can read. Bearer tokens are
 * credentials, so the file is written atomically with mode 0600 (in a 0700 directory), and a cache that others
 * could read is refused rather than used: its tokens may already have leaked, and the fix is to log in again.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PhigateError } from '../lib/errors.js';

export interface CachedToken {
  readonly accessToken: string;
  readonly issuer: string;
  /** ISO 8601; absent when the issuer did not say (the API will tell us). */
  readonly expiresAt: string | undefined;
  readonly savedAt: string;
}

export interface TokenCache {
  readonly path: string;
  save(apiUrl: string, token: Omit<CachedToken, 'savedAt'>): Promise<void>;
  /** Undefined when nothing is cached for this API, or when the token has expired (unless `includeExpired`). */
  load(apiUrl: string, options?: { readonly includeExpired?: boolean }): Promise<CachedToken | undefined>;
  clear(apiUrl: string): Promise<void>;
}

interface CacheFile {
  readonly version: 1;
  readonly tokens: Record<string, CachedToken>;
}

const checkPermissions = process.platform !== 'win32';

/** `${XDG_CONFIG_HOME or ~/.config}/phigate/tokens.json`. */
export function defaultTokenCachePath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const base = env['XDG_CONFIG_HOME'] || path.join(os.homedir(), '.config');
  return path.join(base, 'phigate', 'tokens.json');
}

/** One key per API regardless of trailing slashes or case in the host. */
export function cacheKey(apiUrl: string): string {
  const url = new URL(apiUrl);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function createTokenCache(
  options: { readonly path?: string; readonly now?: () => Date } = {},
): TokenCache {
  const file = options.path ?? defaultTokenCachePath();
  const now = options.now ?? (() => new Date());

  const read = async (): Promise<CacheFile> => {
    let text: string;
    try {
      const info = await lstat(file);
      if (!info.isFile()) throw insecure(`${file} is not a regular file`);
      if (checkPermissions && (info.mode & 0o077) !== 0) {
        throw insecure(`${file} can be read by other users; delete it and log in again`);
      }
      if (checkPermissions && typeof process.getuid === 'function' && info.uid !== process.getuid()) {
        throw insecure(`${file} belongs to another user`);
      }
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, tokens: {} };
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as Partial<CacheFile>;
      if (parsed.version === 1 && typeof parsed.tokens === 'object' && parsed.tokens !== null) {
        return { version: 1, tokens: { ...parsed.tokens } };
      }
    } catch {
      // fall through: an unreadable cache is treated as empty and rewritten on the next save
    }
    return { version: 1, tokens: {} };
  };

  const write = async (content: CacheFile): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // Write a private temporary file, then rename: readers never see a half-written file, and the final file
    // has mode 0600 from its first byte whatever mode an older file had.
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    if (checkPermissions) await chmod(file, 0o600);
  };

  return {
    path: file,
    async save(apiUrl, token) {
      // A refused (too open) cache is replaced, never merged: its contents cannot be trusted to be private.
      const content = await read().catch((err: unknown) => {
        if (err instanceof PhigateError) return { version: 1 as const, tokens: {} };
        throw err;
      });
      const entry: CachedToken = {
        accessToken: token.accessToken,
        issuer: token.issuer,
        expiresAt: token.expiresAt,
        savedAt: now().toISOString(),
      };
      await write({ version: 1, tokens: { ...content.tokens, [cacheKey(apiUrl)]: entry } });
    },
    async load(apiUrl, loadOptions) {
      const entry = (await read()).tokens[cacheKey(apiUrl)];
      if (!entry || typeof entry.accessToken !== 'string') return undefined;
      const expired = entry.expiresAt !== undefined && Date.parse(entry.expiresAt) <= now().getTime();
      return expired && !loadOptions?.includeExpired ? undefined : entry;
    },
    async clear(apiUrl) {
      const content = await read().catch((err: unknown) => {
        if (err instanceof PhigateError) return undefined;
        throw err;
      });
      if (!content) {
        // An insecure cache is removed as a whole: logging out must not leave tokens readable by others.
        await rm(file, { force: true });
        return;
      }
      const { [cacheKey(apiUrl)]: _removed, ...rest } = content.tokens;
      await write({ version: 1, tokens: rest });
    },
  };
}

function insecure(message: string): PhigateError {
  return new PhigateError('forbidden', 'token-cache.insecure', message);
}
