import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AlertChannelConfig } from '../config/alerts-schema.js';
import { systemClock } from '../lib/clock.js';
import { buildChannels } from './channels-from-config.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const context = (env: Record<string, string> = {}) => ({
  env,
  clock: systemClock,
  version: '0.1.0',
  attemptTimeoutMs: 10_000,
});
const webhook = (
  over: Partial<Extract<AlertChannelConfig, { type: 'webhook' }>> = {},
): AlertChannelConfig => ({
  type: 'webhook',
  format: 'json',
  url: 'https://soar.example.org/hook',
  secret: { env: 'SOC_SECRET' },
  ...over,
});

function refusal(configs: Record<string, AlertChannelConfig>, env: Record<string, string> = {}): string {
  try {
    buildChannels(configs, context(env));
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected a refusal');
}

describe('channels from configuration', () => {
  it('builds every configured channel with its secrets', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'phigate-channels-'));
    writeFileSync(path.join(dir, 'slack-url'), 'https://hooks.slack.com/services/T/B/x\n');
    const channels = buildChannels(
      {
        soc: webhook(),
        chat: webhook({ format: 'slack', url: { file: path.join(dir, 'slack-url') }, secret: undefined }),
        siem: {
          type: 'syslog',
          host: 'siem.example.org',
          port: 6514,
          format: 'rfc5424',
          facility: 10,
          appName: 'phigate',
          sdId: 'phigate@32473',
        },
      },
      context({ SOC_SECRET: secret }),
    );
    assert.deepEqual(
      channels.map((c) => [c.name, c.type]),
      [
        ['soc', 'webhook'],
        ['chat', 'webhook'],
        ['siem', 'syslog'],
      ],
    );
  });

  it('names the missing variable or unreadable file, never a secret', () => {
    assert.match(
      refusal({ soc: webhook() }),
      /alerts\.channels\.soc: secret: the environment variable SOC_SECRET is not set/,
    );
    assert.match(
      refusal({ soc: webhook({ secret: { file: '/nonexistent/phigate-secret' } }) }),
      /alerts\.channels\.soc: secret: cannot read \/nonexistent\/phigate-secret/,
    );
    const bad = refusal({ soc: webhook() }, { SOC_SECRET: 'hunter2' });
    assert.match(bad, /secret: a webhook secret starts with whsec_/);
    assert.ok(!bad.includes('hunter2'));
    assert.match(
      refusal({ soc: webhook({ signingKey: { env: 'KEY' } }) }, { SOC_SECRET: secret, KEY: 'not a key' }),
      /signingKey: expected an Ed25519 private key/,
    );
  });

  it('sends alerts in clear to loopback only', () => {
    assert.match(
      refusal({ soc: webhook({ url: 'http://soar.example.org/hook' }) }, { SOC_SECRET: secret }),
      /url: alerts leave phigate over https only/,
    );
    buildChannels({ soc: webhook({ url: 'http://127.0.0.1:9000/hook' }) }, context({ SOC_SECRET: secret }));
    assert.match(
      refusal({
        mail: {
          type: 'email',
          host: 'smtp.example.org',
          port: 25,
          security: 'none',
          from: 'phigate@example.org',
          to: ['privacy@example.org'],
        },
      }),
      /security: none is allowed to a loopback relay only/,
    );
  });
});
