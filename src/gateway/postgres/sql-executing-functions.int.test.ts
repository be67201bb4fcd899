/**
 * The guard's list of functions that run SQL, checked against the catalog of the server the suite runs on (and of
 * PHIGATE_TEST_DATABASE_URL's too when it is set), with every extension that server ships installed: a PostgreSQL
 * upgrade or a newly installed extension that brings another such function fails this test, naming it.
 *
 * "Runs SQL" here means, for a function SQL can call (not a trigger, handler, or function taking `internal`):
 *  (a) an input argument named like a query text (`query`, `sql`, `source_sql`, `cursor`, `command`, `statement`…);
 *  (b) an input argument of type refcursor (it reads a cursor by name);
 *  (c) a C entry point (`prosrc` of an internal or C function) among those that run SQL through SPI or libpq —
 *      the list `scripts/sql-executing-functions.mjs` draws from the server's call graph, less the ones that run
 *      only fixed catalog queries (pg_get_viewdef, pg_get_ruledef) or cannot be called with caller SQL;
 *  (d) set_config's entry point (`set_config_by_name`);
 *  (e) an SQL or PL/pgSQL function whose body calls one found by (a)–(d): a wrapper runs what it wraps.
 * Each is then written as a call (`select schema.name(null, …)`) and given to the guard, which must refuse it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createEmptyDatabase, testTargets } from '../../../test/support/database.js';
import { quoteIdent } from '../../provisioner/sql-names.js';
import { guardSql, type GuardCode } from './sql-guard.js';

/** C entry points that run SQL the caller chooses (scripts/sql-executing-functions.mjs, PostgreSQL 15–18). */
const SQL_RUNNING_ENTRY_POINTS = new Set([
  // core: SQL/XML export (xml.c)
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'table_to_xml',
  'table_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xmlschema',
  'database_to_xml_and_xmlschema',
  // core: text search
  'ts_stat1',
  'ts_stat2',
  'tsquery_rewrite_query',
  // contrib: tablefunc, xml2, dblink
  'crosstab',
  'crosstab_hash',
  'connectby_text',
  'connectby_text_serial',
  'xpath_table',
  'dblink_record',
  'dblink_exec',
  'dblink_open',
  'dblink_fetch',
  'dblink_close',
  'dblink_send_query',
  'dblink_get_result',
  'dblink_build_sql_insert',
  'dblink_build_sql_update',
]);

const QUERY_ARGUMENT = /(^|_)(query|sql|sqlquery|cursor|command|statement|stmt)$/i;
const NOT_CALLABLE = new Set([
  'trigger',
  'event_trigger',
  'language_handler',
  'fdw_handler',
  'index_am_handler',
  'table_am_handler',
  'tsm_handler',
]);
const FUNCTION_CODES = new Set<GuardCode>([
  'guard.function-executes-sql',
  'guard.forbidden-function',
  'guard.set-config',
]);

interface CatalogFunction {
  readonly schema: string;
  readonly name: string;
  readonly signature: string;
  readonly kind: string;
  readonly language: string;
  readonly source: string;
  readonly argumentCount: number;
  readonly names: readonly string[];
  readonly modes: readonly string[];
  readonly types: readonly string[];
  readonly returns: string;
}

/** Why `f` runs SQL by the criterion above, or undefined. */
function runsSql(f: CatalogFunction, found: ReadonlySet<string>): string | undefined {
  if (NOT_CALLABLE.has(f.returns)) return undefined;
  const inputs = f.types
    .map((type, i) => ({ type, name: f.names[i] ?? '', mode: f.modes[i] ?? 'i' }))
    .filter((a) => a.mode === 'i' || a.mode === 'b' || a.mode === 'v');
  if (inputs.some((a) => a.type === 'internal')) return undefined;
  const named = inputs.find((a) => QUERY_ARGUMENT.test(a.name));
  if (named) return `input argument "${named.name}"`;
  if (inputs.some((a) => a.type === 'refcursor')) return 'refcursor argument';
  const compiled = f.language === 'internal' || f.language === 'c';
  if (compiled && SQL_RUNNING_ENTRY_POINTS.has(f.source)) return `entry point ${f.source}`;
  if (compiled && f.source === 'set_config_by_name') return 'set_config';
  if (f.language === 'sql' || f.language === 'plpgsql') {
    const body = f.source.toLowerCase();
    const wrapped = [...found].find((name) => new RegExp(`\\b${name}\\s*\\(`).test(body));
    if (wrapped) return `calls ${wrapped}()`;
  }
  return undefined;
}

async function catalogOf(client: pg.Client): Promise<CatalogFunction[]> {
  const { rows } = await client.query<CatalogFunction>(`
    select n.nspname as schema, p.proname as name, p.oid::regprocedure::text as signature, p.prokind as kind,
           l.lanname as language, p.prosrc as source, p.pronargs as "argumentCount",
           coalesce(p.proargnames, '{}') as names, coalesce(p.proargmodes::text[], '{}') as modes,
           coalesce(p.proallargtypes::regtype[]::text[], p.proargtypes::oid[]::regtype[]::text[]) as types,
           p.prorettype::regtype::text as returns
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang`);
  return rows;
}

/** Every function of the catalog that runs SQL, wrappers found until no new one appears. */
function sqlRunning(catalog: readonly CatalogFunction[]): Map<CatalogFunction, string> {
  const out = new Map<CatalogFunction, string>();
  for (let grew = true; grew;) {
    grew = false;
    const names = new Set([...out.keys()].map((f) => f.name.toLowerCase()));
    for (const f of catalog) {
      if (out.has(f)) continue;
      const why = runsSql(f, names);
      if (why !== undefined) {
        out.set(f, why);
        grew = true;
      }
    }
  }
  return out;
}

for (const target of testTargets()) {
  describe(`functions that run SQL, from the catalog of the ${target.name} server`, () => {
    let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
    let client: pg.Client;
    let catalog: CatalogFunction[];
    let found: Map<CatalogFunction, string>;
    const installed: string[] = [];

    before(async () => {
      db = await createEmptyDatabase(target);
      client = new pg.Client({ connectionString: db.url });
      await client.connect();
      // Every extension the server ships that installs here (PL/Perl and PL/Python need libraries that may be
      // missing): the protected database could have any of them.
      const available = await client.query<{ name: string }>(
        'select name from pg_available_extensions order by name',
      );
      for (const { name } of available.rows) {
        try {
          await client.query(`create extension if not exists ${quoteIdent(name)} cascade`);
          installed.push(name);
        } catch {
          // not installable on this server
        }
      }
      catalog = await catalogOf(client);
      found = sqlRunning(catalog);
    });
    after(async () => {
      await client?.end();
      await db?.drop();
    });

    it('finds what the issue names, so the criterion itself works', () => {
      const names = new Set([...found.keys()].map((f) => f.signature));
      for (const signature of [
        'query_to_xml(text,boolean,boolean,text)',
        'ts_stat(text)',
        'ts_rewrite(tsquery,text)',
        'cursor_to_xml(refcursor,integer,boolean,boolean,text)',
        'table_to_xml(regclass,boolean,boolean,text)',
        'set_config(text,text,boolean)',
      ]) {
        assert.ok(names.has(signature), `${signature} not found by the criterion`);
      }
      assert.ok(!names.has('ts_rewrite(tsquery,tsquery,tsquery)'), 'the in-memory ts_rewrite runs no SQL');
      if (installed.includes('tablefunc')) assert.ok(names.has('crosstab(text)'));
    });

    it('the guard refuses a call of every one of them', async () => {
      const unhandled: string[] = [];
      for (const [f, why] of found) {
        const args = Array.from({ length: f.argumentCount }, () => 'null').join(', ');
        const call = `${quoteIdent(f.schema)}.${quoteIdent(f.name)}(${args})`;
        const verdict = await guardSql(f.kind === 'p' ? `call ${call}` : `select ${call}`);
        const refused = !verdict.ok && (f.kind === 'p' || FUNCTION_CODES.has(verdict.code));
        if (!refused) unhandled.push(`${f.signature} (${why}): ${verdict.ok ? 'allowed' : verdict.code}`);
      }
      assert.deepEqual(unhandled, [], `functions that run SQL and pass the guard:\n${unhandled.join('\n')}`);
    });

    it('none of them hides behind an operator, a cast, an aggregate or a type’s input: the guard sees calls by name', async () => {
      const oids = await client.query<{ what: string }>(
        `with f as (select unnest($1::regprocedure[]) as oid)
         select 'operator ' || o.oid::regoperator as what from pg_operator o where o.oprcode in (select oid from f)
         union all select 'cast ' || c.castsource::regtype || ' -> ' || c.casttarget::regtype
           from pg_cast c where c.castfunc in (select oid from f)
         union all select 'aggregate ' || a.aggfnoid::regprocedure from pg_aggregate a
           where a.aggtransfn in (select oid from f) or a.aggfinalfn in (select oid from f)
         union all select 'type ' || t.oid::regtype from pg_type t
           where t.typinput in (select oid from f) or t.typoutput in (select oid from f)
              or t.typreceive in (select oid from f)`,
        [[...found.keys()].map((f) => f.signature)],
      );
      assert.deepEqual(
        oids.rows.map((r) => r.what),
        [],
      );
    });
  });
}
