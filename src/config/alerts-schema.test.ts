import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, redactConfig } from './load.js';

function load(yaml: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-alerts-config-'));
  writeFileSync(path.join(dir, 'phigate.yaml'), yaml);
  return { dir, ...loadConfig({ cwd: dir, env }) };
}

function problems(yaml: string): string {
  try {
    load(yaml);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected the configuration to be refused');
}

const VALID = `
alerts:
  maxAttempts: 5
  backoff: { initial: 1s, max: 5m }
  channels:
    soc:
      type: webhook
      url: https://soar.example.org/hooks/phigate
      secret: { env: SOC_WEBHOOK_SECRET }
    chat:
      type: webhook
      format: slack
      url: { file: secrets/slack-url }
    pager:
      type: webhook
      format: pagerduty
      routingKey: { env: PD_ROUTING_KEY }
    siem:
      type: syslog
      host: siem.example.org
      format: cef
      caFile: siem-ca.pem
    privacy:
      type: email
      host: smtp.example.org
      from: phigate@example.org
      to: [privacy@example.org]
  routes:
    - channels: [siem]
    - kinds: [break-glass]
      minSeverity: critical
      channels: [soc, chat, pager, privacy]
`;

describe('alerts configuration', () => {
  it('has safe defaults: no channels, no routes, nothing delivered', () => {
    const { config } = load('');
    assert.deepEqual(config.alerts.channels, {});
    assert.equal(config.alerts.maxAttempts, 12);
  });

  it('reads channels and routes, with defaults filled and files resolved against the config file', () => {
    const { config, dir } = load(VALID);
    const { soc, chat, siem, privacy } = config.alerts.channels;
    assert.equal(soc?.type === 'webhook' && soc.format, 'json');
    assert.deepEqual(chat?.type === 'webhook' && chat.url, { file: path.join(dir, 'secrets/slack-url') });
    assert.equal(siem?.type === 'syslog' && siem.port, 6514);
    assert.equal(siem?.type === 'syslog' && siem.caFile, path.join(dir, 'siem-ca.pem'));
    assert.equal(privacy?.type === 'email' && privacy.security, 'starttls');
    assert.equal(privacy?.type === 'email' && privacy.port, 587);
    assert.equal(config.alerts.routes.length, 2);
  });

  it('refuses a secret written inline, naming the key', () => {
    const message = problems(VALID.replace('secret: { env: SOC_WEBHOOK_SECRET }', 'secret: whsec_abc'));
    assert.match(message, /alerts\.channels\.soc\.secret: expected \{ env: NAME \} or \{ file: path \}/);
    assert.ok(!message.includes('whsec_abc'), 'the secret is not echoed');
  });

  it('refuses a Slack URL written inline (the URL is the credential)', () => {
    const message = problems(
      VALID.replace('url: { file: secrets/slack-url }', 'url: https://hooks.slack.com/x'),
    );
    assert.match(message, /alerts\.channels\.chat\.url: a slack incoming-webhook URL is its credential/);
  });

  it('refuses an unsigned json webhook, a PagerDuty channel without a routing key', () => {
    assert.match(
      problems(VALID.replace('      secret: { env: SOC_WEBHOOK_SECRET }\n', '')),
      /alerts\.channels\.soc: a json webhook is signed/,
    );
    assert.match(
      problems(VALID.replace('      routingKey: { env: PD_ROUTING_KEY }\n', '')),
      /alerts\.channels\.pager\.routingKey: a pagerduty webhook needs its routingKey/,
    );
  });

  it('refuses routes to unknown channels, unknown kinds, channels no route uses, and inverted backoff', () => {
    assert.match(
      problems(VALID.replace('channels: [siem]', 'channels: [sium]')),
      /alerts\.routes\.0\.channels\.0: no channel named sium/,
    );
    assert.match(
      problems(VALID.replace('kinds: [break-glass]', 'kinds: [brake-glass]')),
      /alerts\.routes\.1\.kinds\.0/,
    );
    assert.match(
      problems(VALID.replace('channels: [siem]', 'channels: [soc]')),
      /alerts\.channels\.siem: no route sends anything/,
    );
    assert.match(
      problems(VALID.replace('initial: 1s', 'initial: 1h')),
      /alerts\.backoff: backoff\.initial is longer/,
    );
    assert.match(problems(VALID.replace('type: email', 'type: pigeon')), /alerts\.channels\.privacy\.type/);
  });

  it('shows only the origin of an inline webhook URL when the configuration is printed', () => {
    const { config } = load(VALID.replace('/hooks/phigate', '/hooks/phigate?token=s3cret'));
    const soc = redactConfig(config).alerts.channels.soc;
    assert.equal(soc?.type === 'webhook' && soc.url, 'https://soar.example.org/***');
  });
});
