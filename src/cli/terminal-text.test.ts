import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonText, safe, table } from './terminal-text.js';

describe('terminal text', () => {
  it('neutralises CRLF, ANSI escapes and bidi overrides (ATTACKS 16, 38)', () => {
    const hostile = 'ok\r\n2026-01-01 INFO approved\u001b[31mred\u202eevil';
    const shown = safe(hostile);
    // eslint-disable-next-line no-control-regex -- asserting their absence
    assert.ok(!/[\r\n\u001b\u202e]/.test(shown));
    assert.match(shown, /\\u000d\\u000a/);
    assert.match(shown, /\\u001b\[31m/);
  });
  it('pads tables using the escaped text', () => {
    assert.equal(table(['a', 'b'], [['x\n', 'y']]), 'a        b\nx\\u000a  y');
  });
  it('keeps --json output parseable to the same data, with no raw bidi or C1 characters', () => {
    const value = { justification: 'a\u202eb\u0085c\u2028d\r\n\u001b[0m', n: 1 };
    const text = jsonText(value);
    // eslint-disable-next-line no-control-regex -- asserting their absence
    assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202e\u2028]/.test(text), text);
    assert.deepEqual(JSON.parse(text), value);
  });
});
