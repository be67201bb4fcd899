/**
 * Holds many gateway sessions for the gateway benchmark, in its own process (so that the measured phigate process
 * holds only the gateway's side). Reads one JSON line on stdin: { host, port, database, user, sessions: [{ grant,
 * password }] }. Each session connects over TLS and runs `select 1` every `intervalMs` until the gateway cuts it.
 * Prints `READY` once all are connected, then one JSON line per closed session { grant, closedAt }, then `DONE`.
 */
import { createInterface } from 'node:readline';
import pg from 'pg';

interface Plan {
  host: string;
  port: number;
  database: string;
  user: string;
  intervalMs: number;
  sessions: { grant: number; password: string }[];
}

const line = await new Promise<string>((resolve) =>
  createInterface({ input: process.stdin }).once('line', resolve),
);
const plan = JSON.parse(line) as Plan;
let open = 0;

const clients = await Promise.all(
  plan.sessions.map(async (s) => {
    const client = new pg.Client({
      host: plan.host,
      port: plan.port,
      database: plan.database,
      user: plan.user,
      password: s.password,
      ssl: { rejectUnauthorized: false },
    });
    await client.connect();
    open += 1;
    return { client, grant: s.grant };
  }),
);
console.log('READY');

for (const { client, grant } of clients) {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    console.log(JSON.stringify({ grant, closedAt: Date.now() }));
    open -= 1;
    if (open === 0) {
      // Writes to a pipe are asynchronous: exiting at once could drop the last lines, DONE among them.
      process.stdout.write('DONE\n', () => process.exit(0));
    }
  };
  client.on('error', close);
  client.on('end', close);
  const loop = async (): Promise<void> => {
    while (!closed) {
      try {
        await client.query('select 1');
      } catch {
        return close();
      }
      await new Promise((r) => setTimeout(r, plan.intervalMs));
    }
  };
  void loop();
}
process.stdin.on('data', () => undefined);
process.once('SIGTERM', () => process.exit(0));
