/** Quoting for the SQL the provisioner writes: identifiers always quoted, literals checked, never raw. */

/** `"name"` with embedded quotes doubled: PostgreSQL's quote_ident, always quoting. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) throw new RangeError('invalid SQL identifier');
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  if (value.includes('\u0000') || value.includes('\\')) throw new RangeError('unsafe SQL literal');
  return `'${value.replaceAll("'", "''")}'`;
}

/** `schema.table` → quoted parts; a name without a schema is in `public`. */
export function qualifiedTable(table: string): { schema: string; name: string; sql: string } {
  const dot = table.indexOf('.');
  const schema = dot === -1 ? 'public' : table.slice(0, dot);
  const name = dot === -1 ? table : table.slice(dot + 1);
  return { schema, name, sql: `${quoteIdent(schema)}.${quoteIdent(name)}` };
}
