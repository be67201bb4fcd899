import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { PhigateError } from '../lib/errors.js';
import { cacheKey, createTokenCache, defaultTokenCachePath } from './token-cache.js';

const posix = process.platform !== 'win32';

describe('token cache', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'phigate-token-cache-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const fresh = (now = () => new Date('2030-01-01T00:00:00Z')) =>
    createTokenCache({ path: path.join(root, `case-${++n}`, 'phigate', 'tokens.json'), now });
  const token = {
    accessToken: 'eyJ.test.token',
    issuer: 'https://idp.example',
    expiresAt: '2030-01-01T01:00:00.000Z',
  };

  it('round-trips a token per API URL, in a file only its owner can read', async () => {
    const cache = fresh();
    assert.equal(await cache.load('http://127.0.0.1:8740'), undefined);
    await cache.save('http://127.0.0.1:8740/', token);
    await cache.save('https://phigate.example', { ...token, accessToken: 'other' });
    const loaded = await cache.load('http://127.0.0.1:8740');
    assert.equal(loaded?.accessToken, token.accessToken);
    assert.equal(loaded?.issuer, token.issuer);
    assert.equal(loaded?.savedAt, '2030-01-01T00:00:00.000Z');
    assert.equal((await cache.load('https://PHIGATE.example/'))?.accessToken, 'other');
    if (posix) {
      assert.equal(statSync(cache.path).mode & 0o777, 0o600);
      assert.equal(statSync(path.dirname(cache.path)).mode & 0o777, 0o700);
    }
    // No temporary files left behind.
    assert.deepEqual(readdirSync(path.dirname(cache.path)), ['tokens.json']);
  });

  it('clears one API and keeps the others', async () => {
    const cache = fresh();
    await cache.save('http://a.test', token);
    await cache.save('http://b.test', token);
    await cache.clear('http://a.test');
    assert.equal(await cache.load('http://a.test'), undefined);
    assert.ok(await cache.load('http://b.test'));
  });

  it('hides expired tokens unless asked', async () => {
    const cache = fresh(() => new Date('2030-01-01T02:00:00Z'));
    await cache.save('http://a.test', token);
    assert.equal(await cache.load('http://a.test'), undefined);
    assert.equal(
      (await cache.load('http://a.test', { includeExpired: true }))?.accessToken,
      token.accessToken,
    );
  });

  it(
    'refuses a cache other users can read, and a save replaces it with a private file',
    { skip: !posix },
    async () => {
      const cache = fresh();
      await cache.save('http://a.test', token);
      chmodSync(cache.path, 0o644);
      await assert.rejects(
        cache.load('http://a.test'),
        (err: unknown) => err instanceof PhigateError && err.code === 'token-cache.insecure',
      );
      await cache.save('http://b.test', { ...token, accessToken: 'new' });
      assert.equal(statSync(cache.path).mode & 0o777, 0o600);
      // The exposed token was not carried over into the private file.
      assert.equal(await cache.load('http://a.test'), undefined);
      assert.equal((await cache.load('http://b.test'))?.accessToken, 'new');
    },
  );

  it('removes an exposed cache entirely on clear', { skip: !posix }, async () => {
    const cache = fresh();
    await cache.save('http://a.test', token);
    chmodSync(cache.path, 0o640);
    await cache.clear('http://a.test');
    assert.throws(() => statSync(cache.path), /ENOENT/);
  });

  it('treats a corrupt cache as empty', async () => {
    const cache = fresh();
    await cache.save('http://a.test', token);
    writeFileSync(cache.path, '{not json', { mode: 0o600 });
    assert.equal(await cache.load('http://a.test'), undefined);
  });

  it('defaults to the XDG config directory', () => {
    assert.equal(
      defaultTokenCachePath({ XDG_CONFIG_HOME: '/x/cfg' }),
      path.join('/x/cfg', 'phigate', 'tokens.json'),
    );
    assert.match(defaultTokenCachePath({}), /\.config[/\\]phigate[/\\]tokens\.json$/);
    assert.equal(cacheKey('HTTP://Example.test:80/api/'), 'http://example.test/api');
  });
});
