/**
 * Caps the connections one client address may hold open. Idle keep-alive and slow-loris sockets cost memory and file
 * descriptors before any request — and so any rate limit — is seen (ATTACKS 39). Memory is bounded by the sockets
 * that are open anyway.
 */
import type { Server } from 'node:net';

export function limitConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
