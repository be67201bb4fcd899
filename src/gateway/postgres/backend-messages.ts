/**
 * What the gateway says to clients itself (before and instead of the upstream server): authentication requests,
 * errors with a SQLSTATE, session parameters, cancel keys, readiness — and how it reads the error fields of upstream
 * ErrorResponses (which may lack fields, or carry hostile text from a compromised server).
 */
import { ByteReader } from './byte-reader.js';
import { MessageWriter } from './message-writer.js';

export type Severity = 'ERROR' | 'FATAL' | 'PANIC';

export interface ErrorFields {
  readonly severity: Severity;
  /** Five characters, e.g. 28P01 invalid_password, 28000 invalid_authorization_specification, 42501. */
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function errorResponse(e: ErrorFields): Buffer {
  if (!SQLSTATE.test(e.code)) throw new RangeError(`invalid SQLSTATE ${e.code}`);
  const w = new MessageWriter()
    .byte(0x53) // S: severity
    .cstring(e.severity)
    .byte(0x56) // V: severity, never localised
    .cstring(e.severity)
    .byte(0x43) // C: SQLSTATE
    .cstring(e.code)
    .byte(0x4d) // M: message
    .cstring(clean(e.message));
  if (e.detail !== undefined) w.byte(0x44).cstring(clean(e.detail));
  if (e.hint !== undefined) w.byte(0x48).cstring(clean(e.hint));
  return w.byte(0).finish('E');
}

/** A message cannot carry NUL; text of ours never should. */
function clean(s: string): string {
  return s.replaceAll('\u0000', '\ufffd');
}

export const authenticationOk = (): Buffer => new MessageWriter().int32(0).finish('R');
export const authenticationCleartextPassword = (): Buffer => new MessageWriter().int32(3).finish('R');
export const parameterStatus = (name: string, value: string): Buffer =>
  new MessageWriter().cstring(name).cstring(value).finish('S');
export const backendKeyData = (processId: number, secretKey: number): Buffer =>
  new MessageWriter().int32(processId).int32(secretKey).finish('K');
export const readyForQuery = (status: 'I' | 'T' | 'E'): Buffer =>
  new MessageWriter().byte(status.charCodeAt(0)).finish('Z');

/** The one-byte answers to SSLRequest and GSSENCRequest. */
export const SSL_ACCEPT = Buffer.from('S');
export const SSL_REFUSE = Buffer.from('N');

/**
 * Fields of an ErrorResponse or NoticeResponse body. Missing severity or SQLSTATE (ATTACKS 28) are filled with
 * ERROR and XX000 rather than trusted to be there.
 */
export function parseErrorFields(
  body: Buffer,
): ErrorFields & { readonly fields: ReadonlyMap<string, string> } {
  const r = new ByteReader(body, 'ErrorResponse');
  const fields = new Map<string, string>();
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    fields.set(String.fromCharCode(code), r.cstring());
  }
  r.end();
  const severity = fields.get('V') ?? fields.get('S');
  const sqlState = fields.get('C');
  return {
    severity: severity === 'FATAL' || severity === 'PANIC' ? severity : 'ERROR',
    code: sqlState !== undefined && SQLSTATE.test(sqlState) ? sqlState : 'XX000',
    message: fields.get('M') ?? '',
    ...(fields.has('D') ? { detail: fields.get('D')! } : {}),
    ...(fields.has('H') ? { hint: fields.get('H')! } : {}),
    fields,
  };
}
