/** `phigate connect RESOURCE`: connection details for an active grant, or psql started with them. */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createApiClient, type GlobalOptions } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { jsonText, safe } from './terminal-text.js';

interface Endpoint {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslmode: string;
  url: string;
}

interface ConnectionInfo {
  grantId: string;
  resource: string;
  role: string;
  grantExpiresAt: string;
  gateway: Endpoint & { tokenExpiresAt: string };
  direct?: Endpoint;
}

interface ConnectOptions {
  grant?: string;
  direct?: boolean;
  psql?: boolean;
}

/** Runs psql with the password in its environment (never on its command line, where `ps` would show it). */
async function runPsql(e: Endpoint, extra: readonly string[]): Promise<number> {
  const child = spawn(
    'psql',
    [`host=${e.host} port=${e.port} dbname=${e.database} user=${e.user} sslmode=${e.sslmode}`, ...extra],
    { stdio: 'inherit', env: { ...process.env, PGPASSWORD: e.password } },
  );
  return new Promise((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new CliError(
              'psql is not installed or not on PATH; use the connection string instead',
              EXIT.unavailable,
            )
          : err,
      ),
    );
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

export function registerConnectCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('connect')
    .argument('<resource>', 'the resource (database) you hold an active grant for')
    .argument('[psqlArgs...]', 'with --psql: more arguments for psql (after --)')
    .option('--grant <id>', 'use this grant (default: your active grant on the resource that lasts longest)')
    .option('--direct', "the grant's own database login, for tools that cannot go through the gateway")
    .option('--psql', 'start psql connected through the gateway (or directly, with --direct)')
    .description('connect to a database with your active grant: prints a connection string, or starts psql')
    .addHelpText(
      'after',
      `
The password is a connection token bound to you and the grant; it stops working when the grant ends, and the
gateway then closes your session. With --direct the credentials are the grant's database role: they also stop
working at the grant's end, and phigate terminates their sessions. Both are recorded in the audit log.

Examples:
  phigate connect clinic-db                 # prints PG* variables and a postgresql:// URL
  phigate connect clinic-db --psql          # psql through the gateway
  phigate connect clinic-db --psql -- -c 'select count(*) from encounters'`,
    )
    .action(async (resource: string, psqlArgs: string[], opts: ConnectOptions) => {
      const g = globals();
      const info = await (
        await createApiClient(g)
      ).call<ConnectionInfo>('POST', '/v1/connections', {
        resource,
        ...(opts.grant ? { grantId: opts.grant } : {}),
        ...(opts.direct ? { direct: true } : {}),
      });
      const endpoint = opts.direct ? info.direct : info.gateway;
      if (endpoint === undefined)
        throw new CliError('the server returned no direct credentials', EXIT.unexpected);
      if (opts.psql) {
        process.stderr.write(
          `grant ${safe(info.grantId)} (${safe(info.role)}) until ${safe(info.grantExpiresAt)}; the session ends then\n`,
        );
        const code = await runPsql(endpoint, psqlArgs);
        if (code !== 0) throw new CliError(`psql exited with status ${code}`, code);
        return;
      }
      if (g.json) {
        console.log(jsonText(info));
        return;
      }
      console.log(
        [
          `# grant ${safe(info.grantId)} (${safe(info.role)} on ${safe(info.resource)}) until ${safe(info.grantExpiresAt)}`,
          opts.direct
            ? '# direct login as the grant role: statements are not audited by the gateway'
            : `# token valid until ${safe(info.gateway.tokenExpiresAt)} (and never past the grant)`,
          `export PGHOST=${safe(endpoint.host)} PGPORT=${endpoint.port} PGDATABASE=${safe(endpoint.database)}`,
          `export PGUSER=${safe(endpoint.user)} PGSSLMODE=${safe(endpoint.sslmode)}`,
          `export PGPASSWORD='${safe(endpoint.password)}'`,
          `# or: psql '${safe(endpoint.url)}'`,
        ].join('\n'),
      );
    });
}
