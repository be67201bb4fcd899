import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertMessage } from './alert-message.js';
import { emailSubject, emailText } from './email-format.js';
import { cefLine, octetCounted, syslogMessage } from './syslog-format.js';
import { webhookBody, WEBHOOK_FORMATS } from './webhook-templates.js';

const m = alertMessage(
  {
    id: 9,
    kind: 'break-glass',
    severity: 'critical',
    requestId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    detail: { role: 'er-phys', resource: 'ehr' },
    createdAt: new Date('2026-01-02T03:04:05.000Z'),
  },
  'https://phigate.example.org',
);
const header = {
  facility: 10,
  hostname: 'gw-1',
  appName: 'phigate',
  sdId: 'phigate@32473',
  version: '0.1.0',
};

describe('alert renderings', () => {
  it('every webhook format carries the link and no interactive element', () => {
    for (const format of WEBHOOK_FORMATS) {
      const body = webhookBody(format, m, { routingKey: 'rk' });
      assert.ok(body.includes(m.link), format);
      assert.doesNotMatch(body, /"(button|actions|Action\.\w+|Action\.Submit)"/i, format);
      assert.doesNotMatch(body, /approve/i, format);
    }
  });
  it('PagerDuty deduplicates on the alert id and maps the severity', () => {
    const pd = JSON.parse(webhookBody('pagerduty', m, { routingKey: 'rk' })) as Record<string, unknown> & {
      payload: Record<string, unknown>;
    };
    assert.equal(pd.routing_key, 'rk');
    assert.equal(pd.event_action, 'trigger');
    assert.equal(pd.dedup_key, 'phigate-alert-9');
    assert.equal(pd.payload.severity, 'critical');
  });
  it('RFC 5424: priority authpriv.crit, structured data with escaped values, octet-counted frame', () => {
    const line = syslogMessage('rfc5424', m, header);
    assert.match(
      line,
      /^<82>1 2026-01-02T03:04:05.000Z gw-1 phigate - break-glass \[phigate@32473 id="phigate-alert-9"/,
    );
    assert.ok(line.includes('ev.role="er-phys"'));
    assert.ok(
      syslogMessage('rfc5424', { ...m, evidence: { role: 'a"b]c\\' } }, header).includes(
        'ev.role="a\\"b\\]c\\\\"',
      ),
    );
    const frame = octetCounted('héllo');
    assert.equal(frame.toString('utf8'), '6 héllo');
  });
  it('CEF escapes pipes in the header and equals signs in extensions', () => {
    const cef = cefLine({ ...m, title: 'a|b', evidence: { role: 'er|phys=x', resource: 'ehr' } }, header);
    assert.ok(cef.startsWith('CEF:0|phigate|phigate|0.1.0|break-glass|a\\|b|10|'));
    assert.ok(cef.includes('msg=role: er|phys\\=x, resource: ehr'));
    assert.ok(cef.includes(`request=${m.link}`));
    assert.match(syslogMessage('cef', m, header), /^<82>1 \S+ gw-1 phigate - break-glass - CEF:0\|/);
  });
  it('e-mail: a sortable subject and the link in the body', () => {
    assert.equal(emailSubject(m), '[phigate] CRITICAL: Break-glass access used (alert 9)');
    assert.ok(emailText(m).includes(m.link));
  });
});
