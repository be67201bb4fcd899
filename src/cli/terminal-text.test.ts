import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safe, table } from './terminal-text.js';

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
});
