import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dataRowBody, rowDescriptionBody } from '../../../test/support/backend-rows.js';
import { ProtocolError } from './protocol-error.js';
import {
  decodeRowDescription,
  rowValues,
  valueText,
  withResultFormats,
  type ResultField,
} from './result-rows.js';

const field = (over: Partial<ResultField> = {}): ResultField => ({
  relation: 16_384,
  attnum: 1,
  type: 23,
  format: 0,
  ...over,
});

describe('result rows', () => {
  it('reads each field’s relation, column, type and format, relation OIDs above 2^31 included', () => {
    const fields = [
      field(),
      field({ relation: 3_000_000_000, attnum: 2, type: 25, format: 1 }),
      field({ relation: 0, attnum: 0 }),
    ];
    assert.deepEqual(decodeRowDescription(rowDescriptionBody(fields)), fields);
  });

  it('refuses a RowDescription that claims more fields than it holds', () => {
    const body = rowDescriptionBody([field()]);
    body.writeInt16BE(50, 0);
    assert.throws(() => decodeRowDescription(body), ProtocolError);
  });

  it('applies a Bind’s result formats: none for text, one for all, else one each', () => {
    const fields = [field(), field({ attnum: 2 })];
    assert.deepEqual(
      withResultFormats(fields, []).map((f) => f.format),
      [0, 0],
    );
    assert.deepEqual(
      withResultFormats(fields, [1]).map((f) => f.format),
      [1, 1],
    );
    assert.deepEqual(
      withResultFormats(fields, [0, 1]).map((f) => f.format),
      [0, 1],
    );
  });

  it('takes the values at the asked positions, NULL as null', () => {
    const body = dataRowBody(['a', null, 'ccc', 'd']);
    assert.deepEqual(rowValues(body, [1, 2]), [null, Buffer.from('ccc')]);
    assert.deepEqual(rowValues(body, []), []);
    assert.throws(() => rowValues(body.subarray(0, 8), [3]), ProtocolError);
  });

  it('prints values as PostgreSQL does: text as sent, binary integers and uuids decoded, other binary unknown', () => {
    assert.equal(valueText(Buffer.from('MRN-1'), field({ type: 25 })), 'MRN-1');
    assert.equal(valueText(Buffer.from('MRN-1'), field({ type: 1043, format: 1 })), 'MRN-1');
    const i4 = Buffer.alloc(4);
    i4.writeInt32BE(-42);
    assert.equal(valueText(i4, field({ type: 23, format: 1 })), '-42');
    const i8 = Buffer.alloc(8);
    i8.writeBigInt64BE(9_007_199_254_740_993n);
    assert.equal(valueText(i8, field({ type: 20, format: 1 })), '9007199254740993');
    const i2 = Buffer.alloc(2);
    i2.writeInt16BE(7);
    assert.equal(valueText(i2, field({ type: 21, format: 1 })), '7');
    const uuid = Buffer.from('0f8fad5bd9cb469fa16570867728950e', 'hex');
    assert.equal(valueText(uuid, field({ type: 2950, format: 1 })), '0f8fad5b-d9cb-469f-a165-70867728950e');
    assert.equal(valueText(Buffer.alloc(8), field({ type: 1700, format: 1 })), undefined);
    assert.equal(valueText(Buffer.alloc(3), field({ type: 23, format: 1 })), undefined);
  });
});
