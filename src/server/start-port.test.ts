import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { reservePort } from './start-port.js';

const listenOn = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });

describe('reservePort', () => {
  it('holds a port chosen for "any" until it is released, then lets it be taken', async () => {
    const reserved = await reservePort('127.0.0.1', 0);
    assert.ok(reserved.port > 0);
    await assert.rejects(listenOn(reserved.port), { code: 'EADDRINUSE' }, 'held while phigate starts');
    await reserved.release();
    await reserved.release(); // twice is harmless (start's cleanup releases too)
    await listenOn(reserved.port);
  });

  it('holds nothing for a configured port', async () => {
    const reserved = await reservePort('127.0.0.1', 1);
    assert.equal(reserved.port, 1);
    await reserved.release();
  });
});
