/**
 * What a grant becomes in the protected database: one login role of its own, confined by PostgreSQL's own privileges
 * to exactly what the policy role allows (schema usage; per-column SELECT/INSERT/UPDATE; table DELETE), valid until
 * the grant's end even if phigate is down, never inheriting anything. Pure: it computes statements, it runs nothing.
 *
 * Identifiers are quoted, never interpolated raw; the password is random URL-safe text, so its literal needs no
 * escaping beyond the quotes (it is checked anyway).
 */
import type { Operation, TableAccess } from '../policy/types.js';

export const ROLE_PREFIX = 'phigate_g_';
const COMMENT_PREFIX = 'phigate grant ';

export interface GrantRoleInput {
  /** The access request id (a UUID). */
  readonly grantId: string;
  readonly expiresAt: Date;
  readonly database: string;
  readonly access: readonly TableAccess[];
  readonly password: string;
  /** Concurrent connections the role may hold. */
  readonly connectionLimit?: number;
}

export interface GrantRolePlan {
  readonly role: string;
  /** Statements to run in one transaction, in order. */
  readonly statements: readonly string[];
}

/** `"name"` with embedded quotes doubled: PostgreSQL's quote_ident, always quoting. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) throw new RangeError('invalid SQL identifier');
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  if (value.includes('\u0000') || value.includes('\\')) throw new RangeError('unsafe SQL literal');
  return `'${value.replaceAll("'", "''")}'`;
}

/** `schema.table` → quoted parts; a name without a schema is in `public`. */
export function qualifiedTable(table: string): { schema: string; sql: string } {
  const dot = table.indexOf('.');
  const schema = dot === -1 ? 'public' : table.slice(0, dot);
  const name = dot === -1 ? table : table.slice(dot + 1);
  return { schema, sql: `${quoteIdent(schema)}.${quoteIdent(name)}` };
}

export function roleNameFor(grantId: string): string {
  const hex = grantId.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`not a grant id: ${grantId}`);
  return `${ROLE_PREFIX}${hex}`;
}

/** The grant id a phigate role was made for, from its comment; undefined for anything else. */
export function grantIdOfComment(comment: string | null): string | undefined {
  if (comment === null || !comment.startsWith(COMMENT_PREFIX)) return undefined;
  const id = comment.slice(COMMENT_PREFIX.length).split(' ')[0] ?? '';
  return /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
}

const COLUMN_PRIVILEGES: readonly Operation[] = ['SELECT', 'INSERT', 'UPDATE'];

export function planGrantRole(input: GrantRoleInput): GrantRolePlan {
  const role = roleNameFor(input.grantId);
  const r = quoteIdent(role);
  if (!/^[A-Za-z0-9_-]{24,}$/.test(input.password))
    throw new RangeError('grant role passwords are random url-safe text');
  const until = input.expiresAt.toISOString();
  const statements = [
    `create role ${r} login noinherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls ` +
      `connection limit ${input.connectionLimit ?? 10} password ${quoteLiteral(input.password)} valid until ${quoteLiteral(until)}`,
    `comment on role ${r} is ${quoteLiteral(`${COMMENT_PREFIX}${input.grantId} until ${until}`)}`,
    `grant connect on database ${quoteIdent(input.database)} to ${r}`,
  ];
  const schemas = new Set<string>();
  const grants: string[] = [];
  for (const access of input.access) {
    const table = qualifiedTable(access.table);
    schemas.add(table.schema);
    const columns = access.columns.map(quoteIdent).join(', ');
    for (const op of access.operations) {
      grants.push(
        COLUMN_PRIVILEGES.includes(op)
          ? `grant ${op.toLowerCase()} (${columns}) on ${table.sql} to ${r}`
          : `grant ${op.toLowerCase()} on ${table.sql} to ${r}`,
      );
    }
  }
  statements.push(
    ...[...schemas].sort().map((schema) => `grant usage on schema ${quoteIdent(schema)} to ${r}`),
  );
  statements.push(...grants);
  return { role, statements };
}
