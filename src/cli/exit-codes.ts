import { HTTP_STATUS, type ErrorKind } from '../lib/errors.js';

/** Documented exit codes of the `phigate` command (also in docs/cli.md and `phigate --help`). */
export const EXIT = Object.freeze({
  ok: 0,
  unexpected: 1,
  usage: 2,
  unauthenticated: 3,
  forbidden: 4,
  notFound: 5,
  conflict: 6,
  unavailable: 7,
  policyFailed: 8,
  invalid: 9,
  auditFailed: 10,
});

export const EXIT_CODES_HELP = `
Exit codes:
  0  success                       5  not found (or not yours to see)
  1  unexpected error              6  conflict (state changed, key reused)
  2  usage error                   7  server unavailable or rate-limited
  3  not authenticated             8  policy check or policy test failed
  4  refused (forbidden, denied)   9  invalid input
                                  10  audit verification or proof failed`;

/** One machine-readable reason of a refusal, as the API's problem details carry them. */
export interface Reason {
  readonly code: string;
  readonly message: string;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code?: string,
    /** The API's reasons, kept as a list for `--json` (the human message lists them as lines). */
    readonly reasons: readonly Reason[] = [],
  ) {
    super(message);
  }
}

/** Errors thrown by the modules the CLI runs in-process (login, policy, config) carry a kind, like API answers. */
export function exitCodeForKind(kind: ErrorKind): number {
  return exitCodeForStatus(HTTP_STATUS[kind]);
}

/** HTTP status → exit code, for answers from the API. */
export function exitCodeForStatus(status: number): number {
  if (status === 401) return EXIT.unauthenticated;
  if (status === 403) return EXIT.forbidden;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 429 || status >= 500) return EXIT.unavailable;
  if (status === 400 || status === 413 || status === 415 || status === 422) return EXIT.invalid;
  return EXIT.unexpected;
}
