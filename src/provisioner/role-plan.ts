/**
 * What a grant becomes in the protected database: one login role of its own, confined by PostgreSQL's own privileges
 * to exactly what the policy role allows — the operations of its access on phigate's views of its tables (see
 * view-plan.ts), and nothing on the tables themselves — valid until the grant's end even if phigate is down, never
 * inheriting anything, its `search_path` set to the views' schema so that queries keep their usual table names.
 * Pure: it computes statements, it runs nothing.
 *
 * Identifiers are quoted, never interpolated raw; the password is random URL-safe text, so its literal needs no
 * escaping beyond the quotes (it is checked anyway).
 */
import { quoteIdent, quoteLiteral } from './sql-names.js';
import type { ViewSet } from './view-plan.js';

export const ROLE_PREFIX = 'phigate_g_';
const COMMENT_PREFIX = 'phigate grant ';

export interface GrantRoleInput {
  /** The access request id (a UUID). */
  readonly grantId: string;
  readonly expiresAt: Date;
  readonly database: string;
  /** The views the role reads and writes through. */
  readonly views: Pick<ViewSet, 'schema' | 'views'>;
  readonly password: string;
  /** Concurrent connections the role may hold. */
  readonly connectionLimit?: number;
}

export interface GrantRolePlan {
  readonly role: string;
  /** Statements to run in one transaction, in order. */
  readonly statements: readonly string[];
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

export function planGrantRole(input: GrantRoleInput): GrantRolePlan {
  const role = roleNameFor(input.grantId);
  const r = quoteIdent(role);
  if (!/^[A-Za-z0-9_-]{24,}$/.test(input.password))
    throw new RangeError('grant role passwords are random url-safe text');
  const until = input.expiresAt.toISOString();
  const schema = quoteIdent(input.views.schema);
  return {
    role,
    statements: [
      `create role ${r} login noinherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls ` +
        `connection limit ${input.connectionLimit ?? 10} password ${quoteLiteral(input.password)} valid until ${quoteLiteral(until)}`,
      `comment on role ${r} is ${quoteLiteral(`${COMMENT_PREFIX}${input.grantId} until ${until}`)}`,
      `alter role ${r} set search_path to ${schema}`,
      `grant connect on database ${quoteIdent(input.database)} to ${r}`,
      `grant usage on schema ${schema} to ${r}`,
      ...input.views.views.map(
        (v) => `grant ${v.operations.map((op) => op.toLowerCase()).join(', ')} on ${v.sql} to ${r}`,
      ),
    ],
  };
}
