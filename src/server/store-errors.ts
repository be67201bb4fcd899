/**
 * Reads reach the store without the mutation runner's error mapping, so a store outage would surface as a bare 500
 * ("a bug in phigate") although it is a dependency being down: clients and load balancers should retry, operators
 * should look at PostgreSQL. Only connection-level failures count; anything else (a bad query) stays a 500.
 */
const UNAVAILABLE_SQLSTATE = /^(08|57P0|53300|3D000)/; // connection, shutdown, too many clients, database gone
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);
// node-postgres reports a dropped or unobtainable connection with plain Errors that carry no code.
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after)/;

export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code)))
    return true;
  return UNAVAILABLE_MESSAGE.test(err.message);
}
