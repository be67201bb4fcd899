/** The CLI's version: the one in phigate's package.json (two levels up from src/cli and from dist/cli alike). */
import { readFileSync } from 'node:fs';

export function phigateVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
