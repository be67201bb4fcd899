/**
 * Structured logs (pino). Redaction is a backstop, not the plan: code must not log PHI, tokens, passwords or SQL
 * literals in the first place; these paths catch the usual suspects if someone slips.
 */
import { pino, type Logger } from 'pino';

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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'phigate' },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
