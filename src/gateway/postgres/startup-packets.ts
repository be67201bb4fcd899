/**
 * The packets a client may send before startup completes, told apart by their 4-byte code: SSLRequest,
 * GSSENCRequest, CancelRequest, or a StartupMessage for protocol 3.x with its parameters.
 */
import { ByteReader } from './byte-reader.js';
import { ProtocolError } from './protocol-error.js';

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

export type StartupPacket =
  | { readonly kind: 'ssl-request' }
  | { readonly kind: 'gssenc-request' }
  | { readonly kind: 'cancel'; readonly processId: number; readonly secretKey: number }
  | {
      readonly kind: 'startup';
      readonly protocolMinor: number;
      readonly user: string;
      readonly database: string;
      readonly parameters: ReadonlyMap<string, string>;
    };

const MAX_PARAMETERS = 64;

export function parseStartupPacket(body: Buffer): StartupPacket {
  const r = new ByteReader(body, 'startup packet');
  const code = r.int32();
  if (code === SSL_REQUEST_CODE) {
    r.end();
    return { kind: 'ssl-request' };
  }
  if (code === GSSENC_REQUEST_CODE) {
    r.end();
    return { kind: 'gssenc-request' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    const processId = r.int32();
    const secretKey = r.int32();
    r.end();
    return { kind: 'cancel', processId, secretKey };
  }
  const major = code >>> 16;
  if (major !== 3)
    throw new ProtocolError(
      `unsupported frontend protocol ${major}.${code & 0xffff}: phigate speaks 3.0`,
      '0A000',
    );
  const parameters = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    const value = r.cstring();
    if (parameters.has(name)) throw new ProtocolError(`startup parameter "${safeName(name)}" given twice`);
    if (parameters.size >= MAX_PARAMETERS) throw new ProtocolError('too many startup parameters');
    parameters.set(name, value);
  }
  r.end();
  const user = parameters.get('user');
  if (user === undefined || user === '')
    throw new ProtocolError('no PostgreSQL user name specified in startup packet', '28000');
  return {
    kind: 'startup',
    protocolMinor: code & 0xffff,
    user,
    database: parameters.get('database') ?? user,
    parameters,
  };
}

/** Parameter names end up in messages: only visible ASCII, cut short. */
function safeName(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, '?').slice(0, 64);
}
