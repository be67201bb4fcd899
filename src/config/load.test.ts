import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { durationMs, loadConfig, redactConfig } from './load.js';

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('loadConfig', () => {
  it('runs on defaults when there is no file', () => {
    const { config, file } = loadConfig({ cwd: dirWith({}), env: {} });
    assert.equal(file, undefined);
    assert.equal(config.server.port, 8740);
    assert.equal(config.database.url, undefined);
    assert.equal(config.identity.devIssuer, false);
  });

  it('reads phigate.yaml and resolves the policy file against its directory', () => {
    const dir = dirWith({ 'phigate.yaml': 'server:\n  port: 9000\npolicy:\n  file: policy.yaml\n' });
    const loaded = loadConfig({ cwd: dir, env: {} });
    assert.equal(loaded.config.server.port, 9000);
    assert.equal(loaded.policyFile, path.join(dir, 'policy.yaml'));
  });

  it('names the file, line and key of an invalid value', () => {
    const dir = dirWith({ 'phigate.yaml': 'server:\n  host: 127.0.0.1\n  port: "eighty"\n' });
    assert.throws(
      () => loadConfig({ cwd: dir, env: {} }),
      (err: Error) => err.message.includes('phigate.yaml:3: server.port:'),
    );
  });

  it('reads person claims, and refuses claims that cannot name a person', () => {
    const ok = loadConfig({
      cwd: dirWith({ 'phigate.yaml': 'identity:\n  personClaims: [employee_number]\n' }),
      env: {},
    });
    assert.deepEqual(ok.config.identity.personClaims, ['employee_number']);
    assert.deepEqual(loadConfig({ cwd: dirWith({}), env: {} }).config.identity.personClaims, []);
    for (const bad of ['[sub]', '[email]', '[email_verified]', '[employee_number, employee_number]']) {
      const dir = dirWith({ 'phigate.yaml': `identity:\n  personClaims: ${bad}\n` });
      assert.throws(() => loadConfig({ cwd: dir, env: {} }), /identity\.personClaims/, bad);
    }
  });

  it('refuses unknown keys (a typo must not silently fall back to a default)', () => {
    const dir = dirWith({ 'phigate.yaml': 'server:\n  host: 127.0.0.1\n  prot: 1\n' });
    assert.throws(
      () => loadConfig({ cwd: dir, env: {} }),
      /phigate\.yaml:3: server: Unrecognized key: "prot"/,
    );
  });

  it('applies environment overrides and names the variable on error without echoing its value', () => {
    const dir = dirWith({});
    const ok = loadConfig({
      cwd: dir,
      env: { PHIGATE_PORT: '7000', PHIGATE_DATABASE_URL: 'postgres://u:pw@h/db' },
    });
    assert.equal(ok.config.server.port, 7000);
    assert.equal(ok.config.database.url, 'postgres://u:pw@h/db');
    assert.throws(
      () => loadConfig({ cwd: dir, env: { PHIGATE_PORT: 'secret-ish-99999x' } }),
      (err: Error) => err.message.includes('PHIGATE_PORT') && !err.message.includes('secret-ish'),
    );
  });

  it('fails when an explicitly named file is missing', () => {
    assert.throws(() => loadConfig({ cwd: dirWith({}), file: 'nope.yaml', env: {} }), /not found/);
  });

  it('redacts the database password for printing', () => {
    const { config } = loadConfig({
      cwd: dirWith({}),
      env: { PHIGATE_DATABASE_URL: 'postgres://u:hunter2@h/db' },
    });
    assert.ok(!JSON.stringify(redactConfig(config)).includes('hunter2'));
  });

  it('reads audit keys from the environment, resolves key and witness files against the config, and redacts keys', () => {
    const dir = dirWith({
      'phigate.yaml': 'audit:\n  hmacKeyFile: keys/hmac.key\n  witness: { files: [w.log] }\n',
    });
    const { config } = loadConfig({
      cwd: dir,
      env: {
        PHIGATE_AUDIT_HMAC_KEY: 'c2VjcmV0LWhtYWMta2V5',
        PHIGATE_AUDIT_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----',
      },
    });
    assert.equal(config.audit.hmacKeyFile, path.join(dir, 'keys', 'hmac.key'));
    assert.deepEqual(config.audit.witness.files, [path.join(dir, 'w.log')]);
    const printed = JSON.stringify(redactConfig(config));
    assert.ok(!printed.includes('c2VjcmV0') && !printed.includes('BEGIN PRIVATE'));
  });

  it('refuses a care-relation recheck interval under a second (each round queries the protected database)', () => {
    const dir = dirWith({ 'phigate.yaml': 'gateway:\n  careRelationRecheck: 500ms\n' });
    assert.throws(
      () => loadConfig({ cwd: dir, env: {} }),
      /phigate\.yaml:2: gateway\.careRelationRecheck: expected at least 1s/,
    );
    const ok = dirWith({ 'phigate.yaml': 'gateway:\n  careRelationRecheck: 5m\n' });
    assert.equal(loadConfig({ cwd: ok, env: {} }).config.gateway.careRelationRecheck, '5m');
    assert.equal(loadConfig({ cwd: dirWith({}), env: {} }).config.gateway.careRelationRecheck, '1m');
  });

  it('limits connections signing in per address to 20 unless configured, and refuses a limit under 1', () => {
    assert.equal(loadConfig({ cwd: dirWith({}), env: {} }).config.gateway.maxPreAuthPerAddress, 20);
    const ok = dirWith({ 'phigate.yaml': 'gateway:\n  maxPreAuthPerAddress: 200\n' });
    assert.equal(loadConfig({ cwd: ok, env: {} }).config.gateway.maxPreAuthPerAddress, 200);
    const zero = dirWith({ 'phigate.yaml': 'gateway:\n  maxPreAuthPerAddress: 0\n' });
    assert.throws(() => loadConfig({ cwd: zero, env: {} }), /phigate\.yaml:2: gateway\.maxPreAuthPerAddress/);
  });

  it('parses durations', () => {
    assert.equal(durationMs('1h30m'), 5_400_000);
    assert.equal(durationMs('500ms'), 500);
  });
});
