/**
 * Each mask as a SQL expression over one column, written with PostgreSQL built-ins only (no extension, no function
 * of ours a user could replace). The expression depends on the column's type, as the catalog spells it
 * (`format_type`): a mask that cannot apply to a type is refused here rather than failing in the database.
 *
 * Masked values are computed inside a security-barrier view, so whatever a query does with them afterwards — filter,
 * cast, convert the whole row — it only ever sees the masked value.
 */
import { RESTRICTED_ZIP3, type Mask } from '../policy/safe-harbor.js';

export class MaskTypeError extends Error {}

const TEXTUAL = /^(text|name|citext|character varying(\(\d+\))?|character(\(\d+\))?)$/;
const DATE = /^date$/;
const TIMESTAMP = /^timestamp(\(\d\))? without time zone$/;
const TIMESTAMPTZ = /^timestamp(\(\d\))? with time zone$/;

export const isTextual = (type: string): boolean => TEXTUAL.test(type);

/** Where the pseudonym key lives: HMAC's inner and outer padded keys, readable by the views' owner only. */
export interface PseudonymKeyTable {
  /** Quoted, schema-qualified name of a one-row table with bytea columns `inner_pad` and `outer_pad`. */
  readonly sql: string;
}

/**
 * `mask` applied to `ref` (an already-quoted column reference such as `t."ssn"`) of type `type`. Every mask keeps NULL
 * as NULL: whether a value is missing is not hidden, and saying so is more honest than inventing one.
 */
export function maskedExpression(
  ref: string,
  type: string,
  mask: Exclude<Mask, 'hide'>,
  key: PseudonymKeyTable,
): string {
  const text = isTextual(type) ? ref : `${ref}::text`;
  const ifPresent = (expression: string): string =>
    `case when ${ref} is null then null else ${expression} end`;
  switch (mask) {
    case 'clear':
      return ref;
    case 'redact':
      return ifPresent(`'***'::text`);
    case 'last4':
      return ifPresent(
        `case when char_length(${text}) <= 4 then repeat('*', char_length(${text})) ` +
          `else repeat('*', char_length(${text}) - 4) || right(${text}, 4) end`,
      );
    case 'year':
      if (DATE.test(type)) return `date_trunc('year', ${ref})::date`;
      if (TIMESTAMP.test(type)) return `date_trunc('year', ${ref})`;
      // In UTC whatever the session's TimeZone: otherwise the year's start would move with it and tell the hour.
      if (TIMESTAMPTZ.test(type)) return `(date_trunc('year', ${ref} at time zone 'UTC') at time zone 'UTC')`;
      throw new MaskTypeError(`the year mask needs a date or timestamp column, not ${type}`);
    case 'zip3': {
      if (!isTextual(type)) throw new MaskTypeError(`the zip3 mask needs a text column, not ${type}`);
      const restricted = RESTRICTED_ZIP3.map((z) => `'${z}'`).join(', ');
      return ifPresent(`case when left(${ref}, 3) in (${restricted}) then '000' else left(${ref}, 3) end`);
    }
    case 'pseudonym':
      // HMAC-SHA-256 = H(outer || H(inner || message)), with built-in sha256(); the key never appears in the view.
      return ifPresent(
        `'ps_' || left(encode(sha256((select k.outer_pad from ${key.sql} k) || ` +
          `sha256((select k.inner_pad from ${key.sql} k) || convert_to(${text}, 'UTF8'))), 'hex'), 24)`,
      );
  }
}
