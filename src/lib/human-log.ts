/**
 * A human rendering of pino's JSON lines for a terminal: `12:04:05 WARN  message  key=value …`, an error as its
 * message alone (the stack is for a debugger; set log.format: json to keep it). Written here rather than taking
 * pino-pretty as a dependency: phigate needs one short line per record, nothing configurable.
 * It renders records after pino has applied its redaction, so it sees nothing that JSON output would not.
 */
import { Writable } from 'node:stream';

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const OMIT = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

function value(v: unknown): string {
  if (v !== null && typeof v === 'object') {
    const err = v as { message?: unknown; type?: unknown; stack?: unknown };
    if (typeof err.message === 'string' && typeof err.stack === 'string') return JSON.stringify(err.message);
    return JSON.stringify(v);
  }
  return typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
}

export function humanLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof rec['time'] === 'number' ? new Date(rec['time']).toTimeString().slice(0, 8) : '';
  const level = LEVELS[Number(rec['level'])] ?? String(rec['level']);
  const fields = Object.entries(rec)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${value(v)}`);
  const msg = typeof rec['msg'] === 'string' ? rec['msg'] : '';
  return `${time} ${level} ${msg}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** A destination for pino that writes human lines to `out`. */
export function humanDestination(out: NodeJS.WritableStream = process.stdout): Writable {
  let buffered = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) if (l) out.write(`${humanLine(l)}\n`);
      done();
    },
  });
}
