/**
 * JSON text with nothing in it that a terminal, an editor or a log viewer would act on. JSON.stringify escapes the
 * C0 controls (CR, LF, ESC…) but leaves characters that are legal in JSON strings as they are: DEL and the C1
 * controls (U+0085 is a line break to some tools, U+009B starts an ANSI sequence in others), the bidirectional
 * marks, embeddings, overrides and isolates (U+202E makes text read differently than it is), and the Unicode line
 * separators. `inertJson` writes those as `\uXXXX` escapes: any JSON parser reads back exactly the same data.
 *
 * `restoreInertJson` undoes it byte for byte, for text whose exact bytes matter (the audit archive carries each
 * event's canonical bytes, which are what was hashed): canonical JSON (RFC 8785, JSON.stringify's escaping) never
 * writes these characters as escapes, so every such escape in an archive line is one `inertJson` made.
 */

const ACTIVE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** An escaped backslash (left alone, with what follows it), or the escape of one of the characters above. */
const ESCAPE = /\\(?:u(007f|00[89][0-9a-f]|061c|200[ef]|202[89a-e]|206[6-9])|[\s\S])/g;

/** `json` (the output of JSON.stringify) with every active character written as a lowercase `\uXXXX` escape. */
export function inertJson(json: string): string {
  return json.replace(ACTIVE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The text `inertJson` was given: its escapes of active characters turned back into the characters. */
export function restoreInertJson(text: string): string {
  if (!text.includes('\\u')) return text;
  return text.replace(ESCAPE, (match, hex: string | undefined) =>
    hex === undefined ? match : String.fromCharCode(Number.parseInt(hex, 16)),
  );
}
