/**
 * Structured logs (pino). Redaction is a backstop, not the plan: code must not log PHI, tokens, passwords or SQL
 * literals in the first place; these paths catch the usual suspects if someone slips.
 */
import { pino, type Logger } from 'pino';
import { humanDestination } from './human-log.js';

export type { Logger };

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.databaseUrl',
  '*.url',
];

/** `auto`: human lines on a terminal, JSON otherwise (pipes, files, log collectors). */
export type LogFormat = 'auto' | 'json' | 'pretty';

export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  format: LogFormat = 'auto',
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'phigate' },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  return pretty ? pino(options, humanDestination()) : pino(options);
}
