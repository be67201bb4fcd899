/**
 * A process that owns a data directory: starts the embedded PostgreSQL there, prints `ready <url>`, and serves until
 * killed. Tests use it as "the other phigate" that holds a directory.
 */
import { startEmbeddedPostgres } from '../../src/store/embedded-postgres.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: embedded-holder.ts DATA_DIR');
const server = await startEmbeddedPostgres({ dataDir });
process.stdout.write(`ready ${server.url}\n`);
process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
setInterval(() => undefined, 60_000);
