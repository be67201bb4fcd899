/**
 * The second line behind database privileges: statements a grant's role must never run through the gateway, even
 * where a misconfigured database would let it. Parsed with PostgreSQL's own grammar (libpg-query), so that what is
 * checked is what the server will execute — not a regular expression's idea of it. Every statement of a
 * multi-statement Query is checked; what cannot be parsed is refused.
 *
 * Refused: COPY to or from a program or a server file; SET ROLE, SET SESSION AUTHORIZATION, RESET ROLE, and
 * changing `search_path` (through which the grant's masked views are found); `set_config` in any spelling (SET is
 * how a session changes what it may); functions that run SQL given to them as a value, out of the guard's sight
 * (sql-executing-functions.ts); ALTER SYSTEM; CREATE EXTENSION, FUNCTION, PROCEDURE, LANGUAGE; DO blocks;
 * large-object and server-file functions; dblink; and every statement that creates, changes or drops an object
 * (temporary ones and SELECT INTO included) — a grant reads and writes data, and an object of the user's could
 * shadow the views. Function calls are found anywhere in the tree (WHERE, FROM, CTEs, sub-selects, arguments,
 * VALUES, PREPARE, DECLARE, EXPLAIN, COPY's query), in the same walk as everything else.
 */
import libpgQuery from 'libpg-query';
import { sqlExecutingFunction } from './sql-executing-functions.js';

/** The reason codes of refused statements, as their audit records carry them (`reasonCode`). */
export type GuardCode =
  | 'guard.alter-system'
  | 'guard.copy-file'
  | 'guard.create-extension'
  | 'guard.create-function'
  | 'guard.create-language'
  | 'guard.ddl'
  | 'guard.do-block'
  | 'guard.foreign-data'
  | 'guard.forbidden-function'
  | 'guard.function-executes-sql'
  | 'guard.load'
  | 'guard.search-path'
  | 'guard.set-config'
  | 'guard.set-role'
  | 'guard.unparsable'
  /** The FunctionCall protocol message, refused by the relay itself (relay.ts). */
  | 'guard.function-call';

export type GuardVerdict =
  | {
      readonly ok: true;
      readonly statements: number;
      /**
       * The relations the statement names (lower-cased, unqualified; those of `pg_catalog` and
       * `information_schema` left out), read from the same parse: whether it can disclose PHI is decided from them
       * (disclosure.ts). Undefined when it cannot be told from the text: `EXECUTE` of a prepared statement or
       * `FETCH` from a cursor reads what an earlier statement named.
       */
      readonly relations: readonly string[] | undefined;
    }
  | { readonly ok: false; readonly code: GuardCode; readonly reason: string; readonly statement: number };

type Refusal = readonly [code: GuardCode, reason: string];

const FORBIDDEN_STATEMENTS: Readonly<Record<string, Refusal>> = {
  AlterSystemStmt: ['guard.alter-system', 'ALTER SYSTEM is not allowed through phigate'],
  CreateExtensionStmt: ['guard.create-extension', 'CREATE EXTENSION is not allowed through phigate'],
  CreateFunctionStmt: [
    'guard.create-function',
    'creating functions or procedures is not allowed through phigate',
  ],
  CreatePLangStmt: ['guard.create-language', 'CREATE LANGUAGE is not allowed through phigate'],
  DoStmt: ['guard.do-block', 'DO blocks are not allowed through phigate'],
  CreateForeignServerStmt: ['guard.foreign-data', 'foreign servers are not allowed through phigate'],
  CreateFdwStmt: ['guard.foreign-data', 'foreign data wrappers are not allowed through phigate'],
  ImportForeignSchemaStmt: ['guard.foreign-data', 'IMPORT FOREIGN SCHEMA is not allowed through phigate'],
  LoadStmt: ['guard.load', 'LOAD is not allowed through phigate'],
};

const IDENTITY_SETTINGS = new Set(['role', 'session_authorization']);
const SEARCH_PATH = 'search_path';

/** Statements that work on data or the session; any other kind (DDL, maintenance, roles…) is refused. */
const DATA_STATEMENTS = new Set([
  'SelectStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'ExplainStmt',
  'TransactionStmt',
  'VariableSetStmt',
  'VariableShowStmt',
  'ConstraintsSetStmt',
  'PrepareStmt',
  'ExecuteStmt',
  'DeallocateStmt',
  'DeclareCursorStmt',
  'FetchStmt',
  'ClosePortalStmt',
  'CopyStmt',
  'DiscardStmt',
  'LockStmt',
  'ListenStmt',
  'UnlistenStmt',
  'NotifyStmt',
]);

/** Functions that read or write server files, large objects, or reach other servers. */
const FORBIDDEN_FUNCTION =
  /^(pg_read_file|pg_read_binary_file|pg_ls_dir|pg_ls_\w+dir|pg_stat_file|pg_file_\w+|lo_\w+|loread|lowrite|dblink\w*|pg_logdir_ls)$/;

type Node = Record<string, unknown>;

function* walk(value: unknown): Generator<[string, Node]> {
  if (Array.isArray(value)) {
    for (const v of value) yield* walk(v);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Node)) {
      if (child !== null && typeof child === 'object' && !Array.isArray(child) && /^[A-Z]/.test(key)) {
        yield [key, child as Node];
      }
      yield* walk(child);
    }
  }
}

function lastName(names: unknown): string {
  const list = Array.isArray(names) ? (names as Node[]) : [];
  const last = list[list.length - 1]?.['String'] as Node | undefined;
  return typeof last?.['sval'] === 'string' ? last['sval'].toLowerCase() : '';
}

function firstStringArg(args: unknown): string | undefined {
  const first = Array.isArray(args) ? (args[0] as Node | undefined) : undefined;
  const constant = first?.['A_Const'] as Node | undefined;
  const sval = constant?.['sval'] as Node | undefined;
  return typeof sval?.['sval'] === 'string' ? sval['sval'].toLowerCase() : undefined;
}

const SET_ROLE_REFUSAL: Refusal = [
  'guard.set-role',
  'changing the session role is not allowed through phigate',
];
const SEARCH_PATH_REFUSAL: Refusal = [
  'guard.search-path',
  'changing search_path is not allowed through phigate (it decides which tables your queries reach)',
];
const OBJECT_REFUSAL: Refusal = [
  'guard.ddl',
  'creating, altering or dropping objects is not allowed through phigate: a grant reads and writes data',
];

/**
 * set_config is refused whatever it sets: its setting and value may be computed, per row, anywhere in a query, where
 * SET names its setting in the statement. A literal naming the role or search_path keeps that refusal's own code.
 */
function setConfigRefusal(args: unknown): Refusal {
  const setting = firstStringArg(args);
  if (setting !== undefined && IDENTITY_SETTINGS.has(setting)) return SET_ROLE_REFUSAL;
  if (setting === SEARCH_PATH) return SEARCH_PATH_REFUSAL;
  return [
    'guard.set-config',
    'set_config() is not allowed through phigate: use SET for the settings a session may change',
  ];
}

function check(kind: string, node: Node): Refusal | undefined {
  const forbidden = FORBIDDEN_STATEMENTS[kind];
  if (forbidden) return forbidden;
  if (kind === 'CopyStmt' && (node['is_program'] === true || typeof node['filename'] === 'string')) {
    return ['guard.copy-file', 'COPY to or from a program or a server file is not allowed through phigate'];
  }
  if (kind === 'VariableSetStmt' && typeof node['name'] === 'string') {
    const setting = node['name'].toLowerCase();
    if (IDENTITY_SETTINGS.has(setting)) return SET_ROLE_REFUSAL;
    if (setting === SEARCH_PATH) return SEARCH_PATH_REFUSAL;
  }
  if (kind === 'SelectStmt' && node['intoClause'] !== undefined) return OBJECT_REFUSAL;
  if (kind.endsWith('Stmt') && !DATA_STATEMENTS.has(kind)) return OBJECT_REFUSAL;
  if (kind === 'FuncCall') {
    const name = lastName(node['funcname']);
    if (FORBIDDEN_FUNCTION.test(name))
      return ['guard.forbidden-function', `${name}() is not allowed through phigate`];
    if (name === 'set_config') return setConfigRefusal(node['args']);
    const args = node['args'];
    if (sqlExecutingFunction(name, Array.isArray(args) ? args.length : 0) !== undefined) {
      return [
        'guard.function-executes-sql',
        `${name}() runs SQL given to it as a value, which phigate can neither check nor record: it is not allowed through phigate`,
      ];
    }
  }
  return undefined;
}

/** Schemas whose relations are the server's own: reading them (psql's `\d`) discloses no patient. */
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);
/** Statements that run what an earlier statement prepared or declared: what they read is not in their text. */
const INDIRECT = new Set(['ExecuteStmt', 'FetchStmt']);

export async function guardSql(sql: string): Promise<GuardVerdict> {
  // An empty query is PostgreSQL's EmptyQueryResponse, harmless; the parser refuses it, so answer here.
  if (sql.trim() === '') return { ok: true, statements: 0, relations: [] };
  let tree: { stmts?: { stmt?: unknown }[] };
  try {
    tree = (await libpgQuery.parse(sql)) as typeof tree;
  } catch {
    return {
      ok: false,
      code: 'guard.unparsable',
      reason: 'the statement could not be parsed, so it is not run',
      statement: 0,
    };
  }
  const statements = tree.stmts ?? [];
  const relations = new Set<string>();
  let indirect = false;
  for (let i = 0; i < statements.length; i++) {
    for (const [kind, node] of walk(statements[i]!.stmt)) {
      const refusal = check(kind, node);
      if (refusal) return { ok: false, code: refusal[0], reason: refusal[1], statement: i };
      // A FROM item is a RangeVar node; COPY's, INSERT's, UPDATE's, DELETE's and MERGE's target is its `relation`.
      const range = kind === 'RangeVar' ? node : (node['relation'] as Node | undefined);
      if (typeof range?.['relname'] === 'string') {
        const schema =
          typeof range['schemaname'] === 'string' ? range['schemaname'].toLowerCase() : undefined;
        if (schema === undefined || !SYSTEM_SCHEMAS.has(schema))
          relations.add(range['relname'].toLowerCase());
      }
      if (INDIRECT.has(kind)) indirect = true;
    }
  }
  return { ok: true, statements: statements.length, relations: indirect ? undefined : [...relations] };
}
