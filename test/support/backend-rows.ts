/** Result messages' bodies (RowDescription, DataRow) as PostgreSQL sends them, for unit tests of the gateway. */
import { MessageWriter } from '../../src/gateway/postgres/message-writer.js';
import type { ResultField } from '../../src/gateway/postgres/result-rows.js';

export function rowDescriptionBody(fields: readonly ResultField[]): Buffer {
  const w = new MessageWriter().int16(fields.length);
  fields.forEach((f, i) =>
    w
      .cstring(`c${i}`)
      .int32(f.relation | 0)
      .int16(f.attnum)
      .int32(f.type | 0)
      .int16(-1)
      .int32(-1)
      .int16(f.format),
  );
  return w.finish('T').subarray(5);
}

export function dataRowBody(values: readonly (Buffer | string | null)[]): Buffer {
  const w = new MessageWriter().int16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else {
      const b = typeof v === 'string' ? Buffer.from(v) : v;
      w.int32(b.length).bytes(b);
    }
  }
  return w.finish('D').subarray(5);
}
