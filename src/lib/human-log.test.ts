import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { humanDestination, humanLine } from './human-log.js';

describe('human log lines', () => {
  it('renders a record as time, level, message and fields, not JSON', () => {
    const line = humanLine(
      JSON.stringify({
        level: 40,
        time: Date.UTC(2026, 0, 1),
        service: 'phigate',
        msg: 'generated an audit key',
        file: '/k',
      }),
    );
    assert.match(line, /^\d\d:\d\d:\d\d WARN {2}generated an audit key {2}file=\/k$/);
    assert.doesNotMatch(line, /[{}]|"level"/);
  });

  it('shows an error by its message, without the multi-line stack, and keeps redaction', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const logger = pino({ redact: { paths: ['*.token'], censor: '[redacted]' } }, humanDestination(out));
    logger.error({ err: new Error('store down'), req: { token: 'secret' } }, 'unhandled error');
    await new Promise((r) => setImmediate(r));
    assert.match(text, /ERROR unhandled error {2}err="store down" req=\{"token":"\[redacted\]"\}\n$/);
    assert.equal(text.split('\n').length, 2, 'one line');
    assert.doesNotMatch(text, /secret|at .*\.ts/);
  });
});
