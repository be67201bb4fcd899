/**
 * A server for the API benchmark, in its own process so that the load generator does not share its event loop:
 * `bare` (a Fastify route returning a small JSON) or `phigate` (the real server with a given config and policy).
 * Prints one line `READY <url>` when listening; stops on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { startPhigate } from '../../src/server/start.js';

const [mode, configPath, policyPath] = process.argv.slice(2);

if (mode === 'bare') {
  const bare = Fastify();
  bare.post('/bare', async () => ({ id: '00000000-0000-4000-8000-000000000000', status: 'active' }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  console.log(`READY http://127.0.0.1:${(bare.server.address() as { port: number }).port}/bare`);
  process.once('SIGTERM', () => void bare.close().then(() => process.exit(0)));
} else {
  const phigate = await startPhigate({
    configPath,
    port: 0,
    logLevel: 'silent',
    policy: { source: readFileSync(policyPath!, 'utf8'), sourceName: policyPath! },
  });
  console.log(`READY ${phigate.url}`);
  process.once('SIGTERM', () => void phigate.stop().then(() => process.exit(0)));
}
