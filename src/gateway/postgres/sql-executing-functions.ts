/**
 * Functions that run SQL they are given as a value — a query text, a cursor, or a table, schema or database whose
 * rows they select themselves. What they run never passes through the guard (it is a string literal to the parser,
 * or a parameter), and the statement's audit record shows it only as a literal token: an auditor cannot read what
 * ran. The database still confines the role, but the guard's refusals (`SET search_path`, …) would be void:
 * `query_to_xml('select set_config(''search_path'', ''public'', false)', …)` changed the session's search_path.
 * So the guard refuses every call of these, whatever the arguments (`guard.function-executes-sql`; for ts_rewrite,
 * its form that takes a query).
 *
 * Found from the catalog, not from memory: the SQL-callable functions of the server (and of every extension it ships)
 * whose C entry point runs SQL through SPI (or libpq, for dblink) — `scripts/sql-executing-functions.mjs` lists them
 * from the server's call graph — and those with an input argument named like a query or typed `refcursor`.
 * `sql-executing-functions.int.test.ts` reads the running server's `pg_proc` by that criterion and fails naming any
 * function the guard lets through. Not here: dblink, refused with server-file functions (`guard.forbidden-function`);
 * `set_config`, refused on its own (`guard.set-config`); triggers and PL handlers, which SQL cannot call;
 * `pg_get_viewdef`/`pg_get_ruledef`, whose SPI queries are fixed catalog reads.
 *
 * Matched by the function's own name, whatever its schema, quoting or case: a same-named function of the protected
 * database is refused too (fail closed). Functions of the protected database that run dynamic SQL (PL/pgSQL
 * `EXECUTE`) are the database's to refuse: their names are not known here (docs/gateway.md, Limits).
 */

export interface SqlExecutingFunction {
  /** Why a call runs SQL out of the guard's sight. */
  readonly why: string;
  /** Only calls with this many arguments run SQL (other arities of the name are harmless). */
  readonly arguments?: number;
}

const XML_EXPORT = 'selects every row of the table named by its regclass argument (SPI)';
const XML_SCHEMA_EXPORT = 'selects every row of every table of the schema it names (SPI)';
const XML_DATABASE_EXPORT = 'selects every row of every table of the current database (SPI)';
const CROSSTAB = 'tablefunc: runs its text argument as the source query (SPI)';

const ENTRIES: readonly (readonly [name: string, entry: SqlExecutingFunction])[] = [
  // PostgreSQL core (pg_catalog), SQL/XML export functions (xml.c).
  ['query_to_xml', { why: 'runs its `query` text argument (SPI)' }],
  ['query_to_xmlschema', { why: 'prepares its `query` text argument to describe its result (SPI)' }],
  ['query_to_xml_and_xmlschema', { why: 'runs its `query` text argument (SPI)' }],
  ['cursor_to_xml', { why: 'fetches the rows of the cursor its `cursor` refcursor argument names (SPI)' }],
  ['cursor_to_xmlschema', { why: 'opens the cursor its `cursor` refcursor argument names (SPI)' }],
  ['table_to_xml', { why: XML_EXPORT }],
  ['table_to_xml_and_xmlschema', { why: XML_EXPORT }],
  [
    'table_to_xmlschema',
    // Reads only the table's definition; refused with its family so that the rule is one sentence.
    { why: 'describes the table named by its regclass argument, like the rest of the table_to_xml family' },
  ],
  ['schema_to_xml', { why: XML_SCHEMA_EXPORT }],
  ['schema_to_xmlschema', { why: 'lists and describes the tables of the schema it names (SPI)' }],
  ['schema_to_xml_and_xmlschema', { why: XML_SCHEMA_EXPORT }],
  ['database_to_xml', { why: XML_DATABASE_EXPORT }],
  ['database_to_xmlschema', { why: 'lists and describes every table of the current database (SPI)' }],
  ['database_to_xml_and_xmlschema', { why: XML_DATABASE_EXPORT }],
  // PostgreSQL core, text search (tsvector_op.c, tsquery_rewrite.c).
  ['ts_stat', { why: 'runs its `query` text argument, a query returning tsvectors (SPI)' }],
  [
    'ts_rewrite',
    // ts_rewrite(tsquery, tsquery, tsquery) rewrites in memory and runs nothing.
    { why: 'ts_rewrite(tsquery, text) runs its text argument, a query of rewrite pairs (SPI)', arguments: 2 },
  ],
  // Extensions PostgreSQL ships (contrib): refused in case the protected database installed them.
  ['crosstab', { why: `${CROSSTAB}, and crosstab(text, text) its category query too` }],
  ['crosstab2', { why: CROSSTAB }],
  ['crosstab3', { why: CROSSTAB }],
  ['crosstab4', { why: CROSSTAB }],
  [
    'connectby',
    { why: 'tablefunc: builds a query from its table, column and condition texts and runs it (SPI)' },
  ],
  [
    'xpath_table',
    { why: 'xml2: builds a query from its relation and criteria texts (pasted as SQL) and runs it (SPI)' },
  ],
];

export const SQL_EXECUTING_FUNCTIONS: ReadonlyMap<string, SqlExecutingFunction> = new Map(ENTRIES);

/** The entry for a call of `name` (lower case, unqualified) with `argumentCount` arguments, if it runs SQL. */
export function sqlExecutingFunction(name: string, argumentCount: number): SqlExecutingFunction | undefined {
  const entry = SQL_EXECUTING_FUNCTIONS.get(name);
  if (entry?.arguments !== undefined && entry.arguments !== argumentCount) return undefined;
  return entry;
}
