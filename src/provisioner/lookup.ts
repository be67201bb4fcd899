/**
 * How phigate reads the data of a protected database (care relations, whether named patients exist): as the
 * provisioning account, in a read-only transaction, abandoned after a few seconds — a look-up holds one of the few
 * connections of the look-up pool, and a request waiting on it is better refused than queued.
 */
import type pg from 'pg';

/** A look-up that takes longer is abandoned (the request is then refused). */
const LOOKUP_TIMEOUT = '5s';

export async function readOnlyLookup<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin read only');
    await client.query(`set local statement_timeout = '${LOOKUP_TIMEOUT}'`);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
