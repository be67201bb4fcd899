import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { publicKeyId, signCheckpoint } from './checkpoint.js';
import { fileWitness, httpWitness, parseWitnessEntries, type WitnessEntry } from './witness.js';

const key = generateKeyPairSync('ed25519');
function entry(size: number): WitnessEntry {
  const s = signCheckpoint(
    { origin: 'log', size: BigInt(size), rootHash: Buffer.alloc(32, size), time: new Date(0) },
    key.privateKey,
  );
  return { body: s.body, keyId: publicKeyId(key.publicKey), signature: s.signature };
}

describe('witnesses', () => {
  let dir: string;
  let server: Server;
  let url: string;
  const kept: string[] = [];
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-witness-'));
    // A minimal HTTP witness: keeps what is POSTed, returns it all on GET.
    server = createServer((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          kept.push(body);
          res.writeHead(201).end();
        });
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(kept.join(''));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/witness`;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await new Promise((r) => server.close(r));
  });

  it('a file witness appends entries and reads them back exactly', async () => {
    const w = fileWitness(path.join(dir, 'w.log'));
    assert.deepEqual(await w.read(), { entries: [], problems: ['no such file'] });
    await w.publish(entry(3));
    await w.publish(entry(9));
    assert.deepEqual(await w.read(), { entries: [entry(3), entry(9)], problems: [] });
  });

  it('reports content it cannot read instead of skipping it silently', async () => {
    const file = path.join(dir, 'damaged.log');
    const w = fileWitness(file);
    await w.publish(entry(1));
    appendFileSync(file, 'garbage\n');
    await w.publish(entry(2));
    const read = await w.read();
    assert.equal(read.entries.length, 2);
    assert.equal(read.problems.length, 1);
    assert.match(read.problems[0]!, /unreadable content at byte/);
    assert.deepEqual(parseWitnessEntries('').entries, []);
  });

  it('an HTTP witness receives each entry by POST and returns them all on GET', async () => {
    const w = httpWitness(url);
    await w.publish(entry(5));
    await w.publish(entry(6));
    assert.deepEqual(await w.read(), { entries: [entry(5), entry(6)], problems: [] });
    await assert.rejects(httpWitness('http://127.0.0.1:9/nowhere', { timeoutMs: 500 }).publish(entry(1)));
  });
});
