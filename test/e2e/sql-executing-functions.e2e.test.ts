/**
 * Issue 12: SQL run inside a function escaped the guard and the audit. `query_to_xml('select set_config(…)', …)` and
 * the same through `ts_stat('select …')` changed the session's search_path although the guard refuses
 * `SET search_path`, and were recorded as successes whose real SQL was only a literal token. Through the real gateway
 * (phigate with its API, real OIDC tokens, TLS, `pg` and `psql`), both are refused with 42501, in the simple and the
 * extended protocol; the session stays usable with its search_path unchanged; the refusals are in the audit log with
 * their reason codes. The same statements with `--direct` credentials (no gateway) do change search_path: what the
 * gateway refuses is live on this server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { psqlAvailable, runPsql } from '../../src/demo/psql.js';
import { startGatewayFixture, type GatewayFixture } from '../support/gateway.js';

const SET_PATH = "set_config(''search_path'',''public'',false)";
/** The two statements, verbatim but for ts_stat's query, which must return a tsvector. */
const QUERY_TO_XML = `SELECT query_to_xml('select ${SET_PATH}', true, false, '')`;
const TS_STAT = `SELECT * FROM ts_stat('select to_tsvector(${SET_PATH})')`;

async function refusal(
  client: pg.Client,
  query: string | pg.QueryConfig,
): Promise<{ code?: string; message: string }> {
  return (await client.query(query).then(
    () => assert.fail(`${JSON.stringify(query)} was run`),
    (err: unknown) => err,
  )) as { code?: string; message: string };
}

const searchPath = async (client: pg.Client): Promise<string> =>
  (await client.query<{ search_path: string }>('show search_path')).rows[0]!.search_path;

describe('functions that run SQL given as a value, through the gateway (issue 12)', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => {
    await f.stop();
  });

  it('without the gateway, the issue’s statements change search_path (the attack is live on this server)', async () => {
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan', { grantId, direct: true });
    const direct = body.direct!;
    for (const sql of [QUERY_TO_XML, TS_STAT]) {
      const client = new pg.Client({ ...direct, ssl: false });
      await client.connect();
      try {
        const before = await searchPath(client);
        assert.notEqual(before, 'public');
        await client.query(sql);
        assert.equal(await searchPath(client), 'public', sql);
      } finally {
        await client.end();
      }
    }
    await f.revoke('dan', grantId);
  });

  it('refuses them with 42501, keeps the session and its search_path, and records each refusal with its code', async () => {
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan', { grantId });
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    const expected: string[] = [];
    try {
      const before = await searchPath(client);
      assert.notEqual(before, 'public');
      const attempts: [string | pg.QueryConfig, string][] = [
        // Simple protocol (no parameters).
        [QUERY_TO_XML, 'guard.function-executes-sql'],
        [TS_STAT, 'guard.function-executes-sql'],
        [
          `select pg_catalog."query_to_xml"('select ${SET_PATH}', true, false, '')`,
          'guard.function-executes-sql',
        ],
        [
          `with x as (select 1 as n) select n from x where ts_rewrite('a'::tsquery, 'select ${SET_PATH}') is not null`,
          'guard.function-executes-sql',
        ],
        ["select table_to_xml('encounters', true, false, '')", 'guard.function-executes-sql'],
        ["select set_config('search_path', 'public', false)", 'guard.search-path'],
        ["select set_config('statement_timeout', '1000', false)", 'guard.set-config'],
        // Extended protocol: the query text as a bound parameter, refused at Parse.
        [
          {
            text: "select query_to_xml($1, true, false, '')",
            values: ["select set_config('search_path', 'public', false)"],
          },
          'guard.function-executes-sql',
        ],
        [
          {
            text: 'select word from ts_stat($1)',
            values: ["select to_tsvector(set_config('search_path', 'public', false))"],
          },
          'guard.function-executes-sql',
        ],
      ];
      for (const [query, code] of attempts) {
        const err = await refusal(client, query);
        assert.equal(err.code, '42501', `${JSON.stringify(query)}: ${err.message}`);
        // Usable after each refusal, the setting untouched.
        assert.equal(await searchPath(client), before, JSON.stringify(query));
        expected.push(code);
      }
      assert.match(
        (await refusal(client, QUERY_TO_XML)).message,
        /query_to_xml\(\) runs SQL given to it as a value/,
      );
      expected.push('guard.function-executes-sql');
      // SET is how a session changes what it may.
      await client.query('set statement_timeout = 5000');
      assert.equal(
        (await client.query<{ n: number }>('select count(*)::int as n from encounters')).rows[0]!.n,
        120,
      );
    } finally {
      await client.end();
    }

    if (psqlAvailable()) {
      // The real psql (simple protocol, its own session).
      const r = await runPsql(body.gateway, QUERY_TO_XML);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /query_to_xml\(\) runs SQL/);
      expected.push('guard.function-executes-sql');
    }

    const refused = await f.phigate.store.db
      .selectFrom('audit_events')
      .select(['reason_code', 'canonical'])
      .where('request_id', '=', grantId)
      .where('action', '=', 'statement.execute')
      .where('outcome', '=', 'refused')
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      refused.map((e) => e.reason_code),
      expected,
    );
    // What the auditor reads: the function that was refused, in the fingerprint.
    assert.match(refused[0]!.canonical, /"fingerprint":"select query_to_xml\(/i);
    await f.revoke('dan', grantId);
  });
});
