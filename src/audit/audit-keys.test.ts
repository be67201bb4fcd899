import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadAuditKeys } from './audit-keys.js';
import { createPseudonymizer, isPatientToken } from './pseudonymizer.js';

describe('audit keys', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-keys-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('generates both keys once under the data directory, mode 600, and reuses them', () => {
    const dataDir = path.join(dir, 'data');
    const first = loadAuditKeys({ dataDir });
    assert.equal(first.generated.length, 2);
    for (const file of first.generated) assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = loadAuditKeys({ dataDir });
    assert.deepEqual(again.generated, []);
    assert.ok(again.hmacKey.equals(first.hmacKey));
    assert.equal(again.publicKeyPem, first.publicKeyPem);
  });

  it('takes keys given inline (environment or config) over files, and generates nothing for them', () => {
    const made = loadAuditKeys({ dataDir: path.join(dir, 'fresh') });
    const hmac = readFileSync(path.join(dir, 'fresh', 'audit-hmac.key'), 'utf8');
    const pem = readFileSync(path.join(dir, 'fresh', 'audit-signing.pem'), 'utf8');
    const inline = loadAuditKeys({ dataDir: path.join(dir, 'elsewhere'), hmacKey: hmac, signingKey: pem });
    assert.deepEqual(inline.generated, []);
    assert.ok(inline.hmacKey.equals(made.hmacKey));
    assert.equal(inline.publicKeyPem, made.publicKeyPem);
    assert.throws(
      () => loadAuditKeys({ dataDir: dir, hmacKey: hmac, signingKey: 'not a key' }),
      /audit\.signingKey/,
    );
  });

  it('refuses key files others can read, short keys, text that is not base64, and non-Ed25519 keys', () => {
    const file = (name: string, text: string, mode = 0o600): string => {
      const f = path.join(dir, name);
      writeFileSync(f, text);
      chmodSync(f, mode);
      return f;
    };
    loadAuditKeys({ dataDir: path.join(dir, 'data') });
    const good = readFileSync(path.join(dir, 'data', 'audit-hmac.key'), 'utf8');
    assert.throws(
      () => loadAuditKeys({ dataDir: dir, hmacKeyFile: file('open.key', good, 0o644) }),
      /readable by group or others/,
    );
    assert.throws(
      () => loadAuditKeys({ dataDir: dir, hmacKeyFile: file('short.key', 'c2hvcnQ=') }),
      /at least 32 needed/,
    );
    assert.throws(
      () => loadAuditKeys({ dataDir: dir, hmacKeyFile: file('bad.key', 'not base64!') }),
      /not base64/,
    );
    assert.throws(
      () =>
        loadAuditKeys({
          dataDir: dir,
          hmacKeyFile: file('ok.key', good),
          signingKeyFile: file('rsa.pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
        }),
      /rsa\.pem/,
    );
    assert.throws(
      () => loadAuditKeys({ dataDir: dir, hmacKeyFile: path.join(dir, 'missing.key') }),
      /cannot be read \(ENOENT\)/,
    );
  });
});

describe('pseudonymizer', () => {
  const a = createPseudonymizer(Buffer.alloc(32, 1));
  const b = createPseudonymizer(Buffer.alloc(32, 2));

  it('gives one patient one token under one key, and nothing to recognise under another', () => {
    assert.equal(a.patient('MRN-1'), a.patient('MRN-1'));
    assert.notEqual(a.patient('MRN-1'), a.patient('MRN-2'));
    assert.notEqual(a.patient('MRN-1'), b.patient('MRN-1'));
    assert.ok(isPatientToken(a.patient('MRN-1')));
    assert.ok(!a.patient('MRN-1').includes('MRN'));
  });

  it('separates patient tokens from literal tokens, and names its key without revealing it', () => {
    assert.notEqual(a.patient('42').slice(3), a.literal('42').slice(3, 25));
    assert.match(a.literal('42'), /^lt_[A-Za-z0-9_-]{16}$/);
    assert.match(a.keyId, /^hk_/);
    assert.notEqual(a.keyId, b.keyId);
    assert.throws(() => createPseudonymizer(Buffer.alloc(16)), /at least 32 bytes/);
  });
});
