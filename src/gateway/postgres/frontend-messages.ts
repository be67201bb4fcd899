/**
 * Messages a client sends after startup, decoded into plain values. Only what the gateway must understand to audit,
 * guard and relay is decoded field by field; everything else is passed on as an opaque message of a known type. An
 * unknown type byte is a protocol violation: the gateway never forwards what it cannot name.
 */
import { ByteReader } from './byte-reader.js';
import { ProtocolError } from './protocol-error.js';

export type FrontendMessage =
  | { readonly type: 'query'; readonly sql: string }
  | {
      readonly type: 'parse';
      readonly statement: string;
      readonly sql: string;
      readonly parameterTypes: readonly number[];
    }
  | {
      readonly type: 'bind';
      readonly portal: string;
      readonly statement: string;
      readonly parameterFormats: readonly number[];
      /** null for SQL NULL. */
      readonly parameters: readonly (Buffer | null)[];
      readonly resultFormats: readonly number[];
    }
  | { readonly type: 'execute'; readonly portal: string; readonly maxRows: number }
  | { readonly type: 'describe'; readonly target: 'statement' | 'portal'; readonly name: string }
  | { readonly type: 'close'; readonly target: 'statement' | 'portal'; readonly name: string }
  | { readonly type: 'sync' }
  | { readonly type: 'flush' }
  | { readonly type: 'terminate' }
  | { readonly type: 'password'; readonly body: Buffer }
  | { readonly type: 'copy-data'; readonly data: Buffer }
  | { readonly type: 'copy-done' }
  | { readonly type: 'copy-fail'; readonly reason: string }
  | { readonly type: 'function-call'; readonly body: Buffer };

const char = (c: string): number => c.charCodeAt(0);

function target(code: number, what: string): 'statement' | 'portal' {
  if (code === char('S')) return 'statement';
  if (code === char('P')) return 'portal';
  throw new ProtocolError(`${what}: invalid target ${code}`);
}

function formats(r: ByteReader): number[] {
  const n = r.count(2);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = r.int16();
    if (f !== 0 && f !== 1) throw new ProtocolError(`invalid format code ${f}`);
    out.push(f);
  }
  return out;
}

export function decodeFrontend(type: number, body: Buffer): FrontendMessage {
  switch (String.fromCharCode(type)) {
    case 'Q': {
      const r = new ByteReader(body, 'Query');
      const sql = r.cstring();
      r.end();
      return { type: 'query', sql };
    }
    case 'P': {
      const r = new ByteReader(body, 'Parse');
      const statement = r.cstring();
      const sql = r.cstring();
      const n = r.count(4);
      const parameterTypes: number[] = [];
      for (let i = 0; i < n; i++) parameterTypes.push(r.int32());
      r.end();
      return { type: 'parse', statement, sql, parameterTypes };
    }
    case 'B': {
      const r = new ByteReader(body, 'Bind');
      const portal = r.cstring();
      const statement = r.cstring();
      const parameterFormats = formats(r);
      const n = r.count(4);
      if (parameterFormats.length > 1 && parameterFormats.length !== n) {
        throw new ProtocolError(`Bind: ${parameterFormats.length} formats for ${n} parameters`);
      }
      const parameters: (Buffer | null)[] = [];
      for (let i = 0; i < n; i++) {
        const len = r.int32();
        if (len < -1) throw new ProtocolError(`Bind: invalid parameter length ${len}`);
        parameters.push(len === -1 ? null : r.bytes(len));
      }
      const resultFormats = formats(r);
      r.end();
      return { type: 'bind', portal, statement, parameterFormats, parameters, resultFormats };
    }
    case 'E': {
      const r = new ByteReader(body, 'Execute');
      const portal = r.cstring();
      const maxRows = r.int32();
      r.end();
      if (maxRows < 0) throw new ProtocolError(`Execute: invalid row limit ${maxRows}`);
      return { type: 'execute', portal, maxRows };
    }
    case 'D':
    case 'C': {
      const what = type === char('D') ? 'Describe' : 'Close';
      const r = new ByteReader(body, what);
      const t = target(r.byte(), what);
      const name = r.cstring();
      r.end();
      return { type: type === char('D') ? 'describe' : 'close', target: t, name };
    }
    case 'S':
      new ByteReader(body, 'Sync').end();
      return { type: 'sync' };
    case 'H':
      new ByteReader(body, 'Flush').end();
      return { type: 'flush' };
    case 'X':
      new ByteReader(body, 'Terminate').end();
      return { type: 'terminate' };
    case 'p':
      return { type: 'password', body };
    case 'd':
      return { type: 'copy-data', data: body };
    case 'c':
      new ByteReader(body, 'CopyDone').end();
      return { type: 'copy-done' };
    case 'f': {
      const r = new ByteReader(body, 'CopyFail');
      const reason = r.cstring();
      r.end();
      return { type: 'copy-fail', reason };
    }
    case 'F':
      return { type: 'function-call', body };
    default:
      throw new ProtocolError(`unknown message type ${type}`);
  }
}
