import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../lib/self-signed-cert.js';
import { startRsyslog, type Rsyslog } from '../../test/support/rsyslog.js';
import { startSmtpReceiver, type SmtpReceiver } from '../../test/support/smtp-receiver.js';
import { alertMessage } from './alert-message.js';
import { describeFailure } from './channel.js';
import { createEmailChannel } from './email-channel.js';
import { createSyslogChannel } from './syslog-channel.js';

const message = alertMessage(
  {
    id: 5,
    kind: 'break-glass',
    severity: 'critical',
    requestId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    detail: { role: 'er-physician', resource: 'ehr', purpose: 'ETREAT' },
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
const signal = () => AbortSignal.timeout(10_000);

async function failureOf(promise: Promise<unknown>, s: AbortSignal): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return describeFailure(err, s);
  }
  assert.fail('expected the delivery to fail');
}

describe('syslog channel → a real rsyslogd (imtcp, TLS with the openssl driver)', () => {
  let rsyslog: Rsyslog;
  before(async () => {
    rsyslog = await startRsyslog();
  });
  after(() => rsyslog.stop());

  const channel = (format: 'rfc5424' | 'cef', ca = rsyslog.caPem) =>
    createSyslogChannel({ name: 'siem', host: '127.0.0.1', port: rsyslog.port, format, header, ca });

  it('delivers RFC 5424 with the alert in structured data, octet-counted over TLS', async () => {
    await channel('rfc5424').deliver(message, signal());
    await waitFor(() => rsyslog.lines().some((l) => l.includes('phigate-alert-5')));
    const line = rsyslog.lines().find((l) => l.startsWith('break-glass|'))!;
    const [msgid, sd, msg] = line.split('|');
    assert.equal(msgid, 'break-glass');
    assert.match(
      sd!,
      /^\[phigate@32473 id="phigate-alert-5" alertId="5" kind="break-glass" severity="critical"/,
    );
    assert.ok(sd!.includes('ev.role="er-physician"'));
    assert.equal(msg, ` Break-glass access used (alert 5): ${message.link}`.trimStart());
  });

  it('delivers CEF as the message when asked', async () => {
    await channel('cef').deliver({ ...message, alertId: 6, messageId: 'phigate-alert-6' }, signal());
    await waitFor(() => rsyslog.lines().some((l) => l.includes('phigate-alert-6')));
    const line = rsyslog.lines().find((l) => l.includes('phigate-alert-6'))!;
    assert.match(line, /^break-glass\|-\|CEF:0\\?\|phigate/);
    assert.ok(line.includes('externalId=phigate-alert-6'));
  });

  it('refuses a server whose certificate does not chain to the configured CA (nothing sent)', async () => {
    const other = createSelfSignedCertificate({ commonName: 'other', altNames: ['127.0.0.1'] });
    const s = signal();
    const failure = await failureOf(channel('rfc5424', other.certPem).deliver(message, s), s);
    assert.match(
      failure,
      /connection failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|ERR_TLS_CERT_ALTNAME_INVALID)\)/,
    );
  });
});

describe('e-mail channel → a real SMTP server (smtp-server, STARTTLS)', () => {
  let smtp: SmtpReceiver;
  before(async () => {
    smtp = await startSmtpReceiver();
  });
  after(() => smtp.close());

  const channel = (port: number, ca: string, security: 'starttls' | 'none' = 'starttls') =>
    createEmailChannel({
      name: 'privacy-office',
      host: '127.0.0.1',
      port,
      security,
      ca,
      from: 'phigate@hospital.example',
      to: ['privacy@hospital.example'],
      messageIdDomain: 'phigate.hospital.example',
      timeoutMs: 10_000,
    });

  it('sends over STARTTLS with the alert id as Message-ID and the link, no PHI', async () => {
    const email = channel(smtp.port, smtp.caPem);
    await email.deliver(message, signal());
    await email.close?.();
    assert.equal(smtp.received.length, 1);
    const mail = smtp.received[0]!;
    assert.equal(mail.secure, true, 'the message crossed the network inside TLS');
    assert.deepEqual(mail.to, ['privacy@hospital.example']);
    assert.match(mail.raw, /^Message-ID: <phigate-alert-5@phigate\.hospital\.example>/im);
    assert.match(mail.raw, /^Subject: \[phigate\] CRITICAL: Break-glass access used \(alert 5\)/im);
    // Long lines travel quoted-printable: undo the soft line breaks.
    assert.ok(mail.raw.replace(/=\r?\n/g, '').includes(message.link));
  });

  it('refuses to send when the server offers no STARTTLS (required by default)', async () => {
    const plain = await startSmtpReceiver({ starttls: false });
    try {
      const s = signal();
      const failure = await failureOf(channel(plain.port, plain.caPem).deliver(message, s), s);
      assert.match(failure, /connection failed \(ETLS\)/);
      assert.equal(plain.received.length, 0);
    } finally {
      await plain.close();
    }
  });

  it('refuses a server certificate that does not chain to the configured CA', async () => {
    const other = createSelfSignedCertificate({ commonName: 'other', altNames: ['127.0.0.1'] });
    const s = signal();
    const failure = await failureOf(channel(smtp.port, other.certPem).deliver(message, s), s);
    assert.match(failure, /connection failed/);
    assert.equal(smtp.received.length, 1, 'nothing more was received');
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for rsyslogd to write the message');
    await new Promise((r) => setTimeout(r, 20));
  }
}
