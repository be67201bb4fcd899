/** The CLI's view of the API: authenticated JSON calls whose failures become CliErrors with exit codes. */
import { randomUUID } from 'node:crypto';
import { createTokenCache } from '../identity/token-cache.js';
import { CliError, EXIT, exitCodeForStatus } from './exit-codes.js';
import { safe } from './terminal-text.js';

export interface GlobalOptions {
  api: string;
  token?: string;
  json?: boolean;
}

export interface ApiClient {
  readonly apiUrl: string;
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** The successful response itself, for bodies that are not JSON (exports, reports, keys); failures throw. */
  raw(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response>;
}

/** `localhost:8740` parses as a URL with the scheme "localhost:": ask for the scheme instead of failing later. */
export function apiUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new CliError(
      `--api ${safe(text)} is not an http(s) URL: write it with its scheme, e.g. http://${safe(text.replace(/^\w+:\/\//, ''))}`,
      EXIT.usage,
      'cli.api-url-invalid',
    );
  }
  return text;
}

export function tokenCache(): ReturnType<typeof createTokenCache> {
  const path = process.env['PHIGATE_TOKEN_CACHE'];
  return createTokenCache(path ? { path } : {});
}

/** The token calls use: `--token`/`PHIGATE_TOKEN`, else the cached one for this API. */
export async function resolveToken(options: GlobalOptions): Promise<string> {
  apiUrl(options.api); // PHIGATE_API_URL does not pass through the option's parser
  if (options.token) return options.token;
  const cached = await tokenCache().load(options.api);
  if (!cached) {
    throw new CliError(
      `not signed in to ${options.api}: run \`phigate login\``,
      EXIT.unauthenticated,
      'token.missing',
    );
  }
  return cached.accessToken;
}

export async function publicGet<T>(api: string, path: string): Promise<T> {
  apiUrl(api);
  let res: Response;
  try {
    res = await fetch(new URL(path, api));
  } catch {
    throw new CliError(`cannot reach phigate at ${api}`, EXIT.unavailable);
  }
  if (!res.ok) throw new CliError(`${path} answered ${res.status}`, exitCodeForStatus(res.status));
  return (await res.json()) as T;
}

export async function createApiClient(options: GlobalOptions): Promise<ApiClient> {
  const token = await resolveToken(options);
  const send = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      // A retried CLI call must not act twice: each invocation carries its own key.
      headers['idempotency-key'] = randomUUID();
    }
    let res: Response;
    try {
      res = await fetch(new URL(path, options.api), {
        method,
        headers,
        ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
      });
    } catch {
      throw new CliError(`cannot reach phigate at ${options.api}`, EXIT.unavailable);
    }
    if (res.ok) return res;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const p = (parsed ?? {}) as {
      code?: string;
      detail?: string;
      reasons?: { code: string; message: string }[];
    };
    // A single reason usually is the detail itself: list only what adds to it.
    const reasons =
      p.reasons
        ?.filter((r) => r.message !== p.detail)
        .map((r) => `\n  - ${safe(r.code)}: ${safe(r.message)}`)
        .join('') ?? '';
    throw new CliError(
      `${safe(p.detail ?? `HTTP ${res.status}`)} (${safe(p.code ?? res.status)})${reasons}`,
      exitCodeForStatus(res.status),
      p.code,
      (p.reasons ?? []).map((r) => ({ code: String(r.code), message: String(r.message) })),
    );
  };
  return {
    apiUrl: options.api,
    raw: send,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      const text = await (await send(method, path, body)).text();
      try {
        return (text ? JSON.parse(text) : undefined) as T;
      } catch {
        throw new CliError(`${path} answered with something that is not JSON`, EXIT.unexpected);
      }
    },
  };
}
