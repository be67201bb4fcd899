import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { errorResponse, parseErrorFields, readyForQuery } from './backend-messages.js';
import * as fe from './frontend-encode.js';
import { decodeFrontend, type FrontendMessage } from './frontend-messages.js';
import { MessageFramer, STARTUP_MAX_BYTES } from './message-framer.js';
import { ProtocolError } from './protocol-error.js';
import { parseStartupPacket } from './startup-packets.js';

function decodeAll(bytes: Buffer, cuts: readonly number[] = []): FrontendMessage[] {
  const framer = new MessageFramer();
  framer.startTyped();
  const out: FrontendMessage[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    for (const f of framer.push(bytes.subarray(at, cut))) out.push(decodeFrontend(f.type!, f.body));
    at = cut;
  }
  assert.equal(framer.buffered, 0);
  return out;
}

const sample: [Buffer, FrontendMessage][] = [
  [fe.query("select 1; select 'é'"), { type: 'query', sql: "select 1; select 'é'" }],
  [
    fe.parse('s1', 'select $1::int', [23]),
    { type: 'parse', statement: 's1', sql: 'select $1::int', parameterTypes: [23] },
  ],
  [
    fe.bind('', 's1', [Buffer.from('42'), null], { parameterFormats: [0], resultFormats: [1] }),
    {
      type: 'bind',
      portal: '',
      statement: 's1',
      parameterFormats: [0],
      parameters: [Buffer.from('42'), null],
      resultFormats: [1],
    },
  ],
  [fe.execute('', 10), { type: 'execute', portal: '', maxRows: 10 }],
  [fe.describe('S', 's1'), { type: 'describe', target: 'statement', name: 's1' }],
  [fe.close('P', 'p'), { type: 'close', target: 'portal', name: 'p' }],
  [fe.sync(), { type: 'sync' }],
  [fe.flush(), { type: 'flush' }],
  [fe.terminate(), { type: 'terminate' }],
];

describe('PostgreSQL wire codec', () => {
  it('decodes every frontend message it relays', () => {
    assert.deepEqual(
      decodeAll(Buffer.concat(sample.map(([b]) => b))),
      sample.map(([, m]) => m),
    );
  });

  it('frames identically however the stream is cut, down to every byte boundary (ATTACKS 26)', () => {
    const bytes = Buffer.concat(sample.map(([b]) => b));
    const expected = sample.map(([, m]) => m);
    assert.deepEqual(
      decodeAll(
        bytes,
        Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
      ),
      expected,
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 20 }),
        (cuts) => {
          assert.deepEqual(
            decodeAll(
              bytes,
              [...cuts].sort((a, b) => a - b),
            ),
            expected,
          );
        },
      ),
    );
  });

  it('reads startup packets: SSL, GSSENC, cancel, and startup with parameters', () => {
    const framer = new MessageFramer();
    const frames = framer.push(
      Buffer.concat([
        fe.sslRequest(),
        fe.gssencRequest(),
        fe.cancelRequest(7, -9),
        fe.startupMessage({ user: 'dan', database: 'clinic-db', application_name: 'psql' }),
      ]),
    );
    assert.deepEqual(
      frames.map((f) => parseStartupPacket(f.body)),
      [
        { kind: 'ssl-request' },
        { kind: 'gssenc-request' },
        { kind: 'cancel', processId: 7, secretKey: -9 },
        {
          kind: 'startup',
          protocolMinor: 0,
          user: 'dan',
          database: 'clinic-db',
          parameters: new Map([
            ['user', 'dan'],
            ['database', 'clinic-db'],
            ['application_name', 'psql'],
          ]),
        },
      ],
    );
    assert.equal(
      parseStartupPacket(new MessageFramer().push(fe.startupMessage({ user: 'u' }))[0]!.body).kind,
      'startup',
    );
  });

  it('refuses startup packets that are too short, too long, or declare gigabytes — before buffering them (ATTACKS 22)', () => {
    const header = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    for (const n of [0, 7, -1, STARTUP_MAX_BYTES + 1, 0x7fffffff]) {
      assert.throws(() => new MessageFramer().push(header(n)), ProtocolError, String(n));
    }
    const framer = new MessageFramer();
    assert.deepEqual(framer.push(header(STARTUP_MAX_BYTES)), [], 'a legal length waits for its body');
  });

  it('refuses malformed startup contents with the right SQLSTATE', () => {
    const body = (b: Buffer) => new MessageFramer().push(b)[0]!.body;
    const withProtocol = (code: number) => {
      const b = fe.startupMessage({ user: 'u' });
      b.writeInt32BE(code, 4);
      return b;
    };
    assert.throws(
      () => parseStartupPacket(body(withProtocol(2 << 16))),
      (e: ProtocolError) => e.sqlState === '0A000',
    );
    assert.throws(
      () => parseStartupPacket(body(fe.startupMessage({ database: 'x' }))),
      (e: ProtocolError) => e.sqlState === '28000',
    );
    const unterminated = fe.startupMessage({ user: 'u' }).subarray(0, -1);
    unterminated.writeInt32BE(unterminated.length, 0);
    assert.throws(() => parseStartupPacket(body(unterminated)), ProtocolError);
    const twice = Buffer.concat([
      Buffer.alloc(4),
      Buffer.from([0, 3, 0, 0]),
      Buffer.from('user\0a\0user\0b\0\0'),
    ]);
    twice.writeInt32BE(twice.length, 0);
    assert.throws(() => parseStartupPacket(body(twice)), /given twice/);
  });

  it('refuses zero, negative and oversized lengths, unknown types, and bodies that do not match their fields', () => {
    const typed = (b: Buffer, limit?: number) => {
      const f = new MessageFramer(limit);
      f.startTyped();
      return f.push(b).map((x) => decodeFrontend(x.type!, x.body));
    };
    const raw = (type: string, len: number, body = Buffer.alloc(0)) => {
      const h = Buffer.alloc(5);
      h[0] = type.charCodeAt(0);
      h.writeInt32BE(len, 1);
      return Buffer.concat([h, body]);
    };
    assert.throws(() => typed(raw('Q', 0)), /length 0/);
    assert.throws(() => typed(raw('Q', -5)), /length -5/);
    assert.throws(() => typed(raw('Q', 2 ** 30), 1024), /exceeds the limit/);
    assert.throws(() => typed(raw('?', 4)), /unknown message type/);
    assert.throws(() => typed(raw('Q', 4 + 3, Buffer.from('abc'))), /not terminated/);
    assert.throws(() => typed(raw('S', 4 + 1, Buffer.from([0]))), /trailing/);
    assert.throws(() => typed(raw('E', 4 + 5, Buffer.from([0, 0xff, 0xff, 0xff, 0xff]))), /row limit/);
    const lying = fe.bind('', '', [Buffer.from('x')]);
    lying.writeInt16BE(30000, 5 + 2 + 2); // parameter count far beyond the body
    assert.throws(() => typed(lying), /impossible count/);
  });

  it('property: arbitrary bytes only ever produce frames or a ProtocolError, and buffer no more than announced', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, startup) => {
        const framer = new MessageFramer(4096);
        if (!startup) framer.startTyped();
        try {
          for (const f of framer.push(Buffer.from(bytes))) {
            if (f.type === undefined) parseStartupPacket(f.body);
            else decodeFrontend(f.type, f.body);
          }
          assert.ok(framer.buffered <= 4096 + 5);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('writes errors clients understand and reads upstream errors that lack fields (ATTACKS 28)', () => {
    const bytes = errorResponse({
      severity: 'FATAL',
      code: '28000',
      message: 'no active grant',
      hint: 'phigate request …',
    });
    const framer = new MessageFramer();
    framer.startTyped();
    const [frame] = framer.push(bytes);
    assert.equal(String.fromCharCode(frame!.type!), 'E');
    const parsed = parseErrorFields(frame!.body);
    assert.equal(parsed.code, '28000');
    assert.equal(parsed.severity, 'FATAL');
    assert.equal(parsed.hint, 'phigate request …');
    const bare = parseErrorFields(Buffer.from('Mboom\0\0'));
    assert.equal(bare.code, 'XX000');
    assert.equal(bare.severity, 'ERROR');
    assert.throws(() => errorResponse({ severity: 'ERROR', code: 'nope', message: '' }), /SQLSTATE/);
    assert.deepEqual(readyForQuery('I'), Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
  });
});
