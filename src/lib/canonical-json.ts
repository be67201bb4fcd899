/**
 * The canonical bytes of an audit event: what is hashed into the Merkle tree, so the same event must always give the
 * same bytes, on any machine, in any version of phigate. The encoding is RFC 8785 (JSON Canonicalization Scheme):
 * object members sorted by the UTF-16 code units of their names, no insignificant white space, strings escaped and
 * numbers written as ECMAScript's JSON.stringify does (which is what RFC 8785 specifies), UTF-8 output.
 * Values JSON cannot carry faithfully (undefined, functions, NaN, ±Infinity, bigint, lone surrogates) are refused
 * rather than silently changed: an event that cannot be hashed exactly must not be recorded approximately.
 */
export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
}

interface Options {
  /** Replace lone surrogates by U+FFFD instead of refusing (for attacker-supplied text that must still be kept). */
  readonly repairSurrogates: boolean;
}

/** The path to a value, built only when an error needs it. */
type Path = () => string;

// Hand-rolled rather than entries/filter/sort/map/join: the audit log encodes every event, so allocation counts.
function encode(value: unknown, path: Path, options: Options): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path()}: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'string':
      if (!value.isWellFormed()) {
        if (!options.repairSurrogates) throw new CanonicalJsonError(`${path()}: lone surrogate in string`);
        return JSON.stringify(value.toWellFormed());
      }
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += encode(value[i], () => `${path()}[${i}]`, options);
        }
        return `${out}]`;
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError(`${path()}: only plain objects, arrays and dates are encoded`);
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, exactly as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${encode(key, path, options)}:${encode(member, () => `${path()}.${key}`, options)}`;
      }
      return `${out}}`;
    }
    default:
      throw new CanonicalJsonError(`${path()}: a ${typeof value} has no JSON form`);
  }
}

const ROOT: Path = () => '$';

/** Canonical JSON text. Object members whose value is undefined are omitted, as JSON.stringify omits them. */
export function canonicalJson(value: unknown, options: { repairSurrogates?: boolean } = {}): string {
  return encode(value, ROOT, { repairSurrogates: options.repairSurrogates ?? false });
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
