/**
 * What a statement returned, as far as the accounting of disclosures needs to read it: the columns of a result
 * (RowDescription: each field's relation and column of origin, type and format) and, in each row (DataRow), the
 * values of the columns that hold a patient id, as the text PostgreSQL would print for them. Pure.
 */
import { ByteReader } from './byte-reader.js';

export interface ResultField {
  /** OID of the table or view the column comes from; 0 for a computed column. */
  readonly relation: number;
  /** The column's number in that relation; 0 for a computed column. */
  readonly attnum: number;
  readonly type: number;
  /** 0 text, 1 binary. */
  readonly format: number;
}

/** The fields of a RowDescription ('T') body. */
export function decodeRowDescription(body: Buffer): ResultField[] {
  const r = new ByteReader(body, 'RowDescription');
  const n = r.count(19);
  const fields: ResultField[] = [];
  for (let i = 0; i < n; i++) {
    r.cstring();
    const relation = r.int32() >>> 0;
    const attnum = r.int16();
    const type = r.int32() >>> 0;
    r.int16(); // type length
    r.int32(); // type modifier
    const format = r.int16();
    fields.push({ relation, attnum, type, format });
  }
  return fields;
}

/**
 * The fields a portal returns: those its statement describes, in the formats its Bind asked for (no code: all text;
 * one code: all in it; otherwise one per column).
 */
export function withResultFormats(fields: readonly ResultField[], formats: readonly number[]): ResultField[] {
  return fields.map((f, i) => ({
    ...f,
    format: formats.length === 0 ? 0 : (formats[formats.length === 1 ? 0 : i] ?? 0),
  }));
}

/** The values of a DataRow ('D') body at `indexes` (ascending), NULL as null. */
export function rowValues(body: Buffer, indexes: readonly number[]): (Buffer | null)[] {
  const r = new ByteReader(body, 'DataRow');
  const n = r.count(4);
  const out: (Buffer | null)[] = [];
  let next = 0;
  for (let i = 0; i < n && next < indexes.length; i++) {
    const length = r.int32();
    const value = length < 0 ? null : r.bytes(length);
    if (i === indexes[next]) {
      out.push(value);
      next += 1;
    }
  }
  return out;
}

const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const UUID = 2950;
/** text, varchar, bpchar, name: their binary form is their text. */
const TEXTUAL = new Set([25, 1043, 1042, 19]);

/**
 * The value as PostgreSQL prints it (so that it matches an id typed in a request), or undefined for a binary value
 * of a type this module does not read.
 */
export function valueText(value: Buffer, field: ResultField): string | undefined {
  if (field.format === 0 || TEXTUAL.has(field.type)) return value.toString('utf8');
  if (field.type === INT2 && value.length === 2) return String(value.readInt16BE(0));
  if (field.type === INT4 && value.length === 4) return String(value.readInt32BE(0));
  if (field.type === INT8 && value.length === 8) return value.readBigInt64BE(0).toString();
  if (field.type === UUID && value.length === 16) {
    const h = value.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return undefined;
}
