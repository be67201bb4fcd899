import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from './canonical-json.js';
import { inertJson, restoreInertJson } from './inert-json.js';

const ACTIVE = [
  '\u007f',
  '\u0085',
  '\u009b',
  '\u061c',
  '\u200e',
  '\u200f',
  '\u2028',
  '\u2029',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
];
const RAW_ACTIVE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Text rich in what matters here: active characters, backslashes, look-alike escapes, controls, quotes. */
const hostileText = fc
  .array(
    fc.oneof(
      fc.constantFrom(...ACTIVE),
      fc.constantFrom(
        '\\',
        '\\u202e',
        '\\\\u202e',
        'u202e',
        '"',
        '\r\n',
        '\u001b[31m',
        '\u00e9',
        '\u{1f600}',
      ),
      fc.string(),
    ),
  )
  .map((parts) => parts.join(''));

describe('inert JSON', () => {
  it('escapes bidi controls, C1 controls and line separators; the data parses back the same', () => {
    const value = { justification: 'a\u202eb\u2066c\u200fd\u061ce\u0085f\u2028g\r\n\u001b[0m' };
    const text = inertJson(JSON.stringify(value));
    assert.ok(!RAW_ACTIVE.test(text), text);
    assert.match(text, /a\\u202eb\\u2066c\\u200fd\\u061ce\\u0085f\\u2028g\\r\\n\\u001b\[0m/);
    assert.deepEqual(JSON.parse(text), value);
  });

  it('restores canonical bytes exactly, whatever the text holds (fast-check)', () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const canonical = canonicalJson({ text, [text]: [text] }, { repairSurrogates: true });
        const inert = inertJson(canonical);
        assert.ok(!RAW_ACTIVE.test(inert));
        assert.deepEqual(JSON.parse(inert), JSON.parse(canonical));
        assert.equal(restoreInertJson(inert), canonical);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves an escaped backslash followed by "u202e" as it is', () => {
    const canonical = JSON.stringify({ t: '\\u202e' });
    assert.equal(canonical, '{"t":"\\\\u202e"}');
    assert.equal(inertJson(canonical), canonical);
    assert.equal(restoreInertJson(canonical), canonical);
  });
});
