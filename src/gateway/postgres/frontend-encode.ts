/** Encoders for the frontend messages the gateway sends upstream (and tests send to the gateway). */
import { MessageWriter } from './message-writer.js';
import {
  PROTOCOL_3_0,
  SSL_REQUEST_CODE,
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
} from './startup-packets.js';

export function startupMessage(parameters: Readonly<Record<string, string>>): Buffer {
  const w = new MessageWriter().int32(PROTOCOL_3_0);
  for (const [k, v] of Object.entries(parameters)) w.cstring(k).cstring(v);
  return w.byte(0).finish();
}

export const sslRequest = (): Buffer => new MessageWriter().int32(SSL_REQUEST_CODE).finish();
export const gssencRequest = (): Buffer => new MessageWriter().int32(GSSENC_REQUEST_CODE).finish();
export const cancelRequest = (processId: number, secretKey: number): Buffer =>
  new MessageWriter().int32(CANCEL_REQUEST_CODE).int32(processId).int32(secretKey).finish();

export const query = (sql: string): Buffer => new MessageWriter().cstring(sql).finish('Q');
export const passwordMessage = (password: string): Buffer =>
  new MessageWriter().cstring(password).finish('p');

export function parse(statement: string, sql: string, parameterTypes: readonly number[] = []): Buffer {
  const w = new MessageWriter().cstring(statement).cstring(sql).int16(parameterTypes.length);
  for (const t of parameterTypes) w.int32(t);
  return w.finish('P');
}

export function bind(
  portal: string,
  statement: string,
  parameters: readonly (Buffer | null)[],
  options: { parameterFormats?: readonly number[]; resultFormats?: readonly number[] } = {},
): Buffer {
  const w = new MessageWriter().cstring(portal).cstring(statement);
  const pf = options.parameterFormats ?? [];
  w.int16(pf.length);
  for (const f of pf) w.int16(f);
  w.int16(parameters.length);
  for (const p of parameters) {
    if (p === null) w.int32(-1);
    else w.int32(p.length).bytes(p);
  }
  const rf = options.resultFormats ?? [];
  w.int16(rf.length);
  for (const f of rf) w.int16(f);
  return w.finish('B');
}

export const execute = (portal: string, maxRows = 0): Buffer =>
  new MessageWriter().cstring(portal).int32(maxRows).finish('E');
export const describe = (target: 'S' | 'P', name: string): Buffer =>
  new MessageWriter().byte(target.charCodeAt(0)).cstring(name).finish('D');
export const close = (target: 'S' | 'P', name: string): Buffer =>
  new MessageWriter().byte(target.charCodeAt(0)).cstring(name).finish('C');
export const sync = (): Buffer => new MessageWriter().finish('S');
export const flush = (): Buffer => new MessageWriter().finish('H');
export const terminate = (): Buffer => new MessageWriter().finish('X');
