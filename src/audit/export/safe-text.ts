/**
 * Text from the log is data, and may be hostile: a justification or a quoted identifier can hold CR/LF (a forged
 * line in a line-oriented file), ANSI escapes or C1 controls (a terminal that obeys them), bidirectional overrides
 * (text that reads differently than it is). Renderings for people write them as visible escapes; a backslash is
 * escaped too, so that the escaping is unambiguous.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\\': '\\\\', '\r': '\\r', '\n': '\\n', '\t': '\\t' };

export function visible(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function escapeHtml(text: string): string {
  return visible(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
