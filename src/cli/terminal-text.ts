/**
 * Text from the server (justifications, names, reasons) is data, and may be hostile: control characters, ANSI
 * escapes, CR/LF that fake extra lines, and bidirectional overrides that make text read differently than it is.
 * Everything printed to a terminal goes through `safe()`.
 */
import { inertJson } from '../lib/inert-json.js';

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function safe(value: unknown): string {
  const text =
    value === undefined || value === null
      ? ''
      : typeof value === 'object'
        ? JSON.stringify(value)
        : `${value as string | number | boolean | bigint}`;
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A plain text table: columns padded to the widest cell, every cell made safe. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => r.map((c) => safe(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/** `--json` output: the same data, with nothing in it that a terminal would act on (lib/inert-json.ts). */
export function jsonText(value: unknown): string {
  return inertJson(JSON.stringify(value));
}
