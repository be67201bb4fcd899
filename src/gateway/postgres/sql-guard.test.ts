import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardSql } from './sql-guard.js';

describe('SQL guard (PostgreSQL grammar)', () => {
  it('lets ordinary reads and writes through, every statement of a multi-statement query counted', async () => {
    for (const sql of [
      'select id, patient_id from encounters where id = $1',
      "select * from encounters e join patients p on p.id = e.patient_id where p.mrn = 'x'",
      'insert into notes (body) values ($1) returning id',
      'begin; update encounters set department = $1 where id = $2; commit',
      'copy (select id from encounters) to stdout',
      "select set_config('statement_timeout', '1000', false)",
      'set statement_timeout = 1000',
      'prepare q as select 1; execute q; deallocate q',
      'declare c cursor with hold for select 1; fetch 1 from c; close c',
      'with x as (select 1) select * from x',
      'explain select 1',
    ]) {
      const verdict = await guardSql(sql);
      assert.equal(verdict.ok, true, `${sql}: ${JSON.stringify(verdict)}`);
    }
    assert.deepEqual(await guardSql('select 1; select 2'), { ok: true, statements: 2 });
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
      ['select set_config($1, $2, false)', 'guard.set-role'],
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

  it('refuses what it cannot parse', async () => {
    for (const sql of ['select from where', "select 'unterminated", '']) {
      const verdict = await guardSql(sql);
      if (sql === '') assert.deepEqual(verdict, { ok: true, statements: 0 });
      else assert.equal(verdict.ok ? '' : verdict.code, 'guard.unparsable', sql);
    }
  });
});
