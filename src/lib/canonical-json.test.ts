import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalBytes, canonicalJson } from './canonical-json.js';

describe('canonical JSON (RFC 8785)', () => {
  it('sorts members by UTF-16 code units and drops white space', () => {
    // RFC 8785 §3.2.3's example of sorting: "\u20ac" (€) sorts after "\r" and "1", and "\ud83d\ude00" before "\ufb33".
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Compare the order in the text (JSON.parse would move integer-like keys first).
    const order = [...canonicalJson(value).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map(
      (m) => JSON.parse(`"${m[1]}"`) as string,
    );
    assert.deepEqual(order, ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
  });

  it('writes numbers and literals as RFC 8785 specifies', () => {
    assert.equal(
      canonicalJson({ b: [1e21, 1e-7, 0.1, -0, 333333333.3333333, 4.5], a: true, c: null }),
      '{"a":true,"b":[1e+21,1e-7,0.1,0,333333333.3333333,4.5],"c":null}',
    );
  });

  it('is independent of member insertion order and nesting', () => {
    assert.equal(
      canonicalJson({ b: { y: 1, x: [{ q: 1, p: 2 }] }, a: 'z' }),
      canonicalJson({ a: 'z', b: { x: [{ p: 2, q: 1 }], y: 1 } }),
    );
  });

  it('escapes control characters, so CRLF and ANSI in data cannot forge lines in an export (ATTACKS 38)', () => {
    const text = canonicalJson({ justification: 'ok\r\nFAKE\u001b[31m' });
    assert.equal(text, '{"justification":"ok\\r\\nFAKE\\u001b[31m"}');
    // eslint-disable-next-line no-control-regex -- asserting their absence
    assert.ok(!/[\r\n\u001b]/.test(text));
  });

  it('refuses what JSON cannot carry exactly', () => {
    for (const bad of [
      { n: NaN },
      { n: Infinity },
      { n: 1n },
      { f: () => 1 },
      { s: '\ud800' },
      { m: new Map() },
      [undefined as unknown],
    ]) {
      assert.throws(() => canonicalJson(bad), /CanonicalJsonError|no JSON form|surrogate|plain objects/);
    }
  });

  it('repairs lone surrogates to U+FFFD only when asked (attacker text that must still be recorded)', () => {
    assert.equal(canonicalJson({ s: 'a\ud800b' }, { repairSurrogates: true }), '{"s":"a\ufffdb"}');
    assert.throws(() => canonicalJson({ s: 'a\ud800b' }), /\$\.s: lone surrogate/);
  });

  it('property: parsing the canonical text and encoding it again gives the same bytes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const once = canonicalBytes(v);
        assert.deepEqual(canonicalBytes(JSON.parse(once.toString('utf8'))), once);
      }),
    );
  });
});
