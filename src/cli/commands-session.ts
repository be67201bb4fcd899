/**
 * `status`, `token`, `completion`: where one stands (who, until when, which grants, what waits for one's approval),
 * the token for tools that call the API themselves, and shell completion.
 */
import { Argument, type Command } from 'commander';
import { createApiClient, resolveToken, type GlobalOptions } from './api-client.js';
import { completionScript, SHELLS, type Shell } from './completion.js';
import type { RequestLike } from './format.js';
import { jsonText, safe, table } from './terminal-text.js';
import { systemTimes, when } from './times.js';

interface Me {
  id: string;
  displayName: string;
  groups: string[];
  tokenExpiresAt?: string;
}

interface Page {
  items: RequestLike[];
  nextCursor?: string;
}

export function registerSessionCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description(
      'who you are, until when your token lasts, your active grants and what waits for your approval',
    )
    .action(async () => {
      const g = globals();
      const api = await createApiClient(g);
      const [me, grants, approvable] = await Promise.all([
        api.call<Me>('GET', '/v1/whoami'),
        api.call<Page>('GET', '/v1/grants?scope=mine&status=active&limit=200'),
        api.call<Page>('GET', '/v1/requests?scope=approvable&status=pending&limit=200'),
      ]);
      if (g.json) {
        console.log(jsonText({ me, activeGrants: grants.items, awaitingYourApproval: approvable.items }));
        return;
      }
      const times = systemTimes();
      const lines = [
        `${safe(me.displayName)} <${safe(me.id)}> on ${safe(g.api)}`,
        `  token expires  ${me.tokenExpiresAt ? safe(when(me.tokenExpiresAt, times)) : 'unknown'}`,
        '',
        grants.items.length === 0
          ? 'No active grants.'
          : `Active grants\n${table(
              ['ID', 'ROLE', 'RESOURCE', 'ENDS'],
              grants.items.map((r) => [
                r.id,
                r.role,
                r.resource,
                r.expiresAt ? when(r.expiresAt, times) : '',
              ]),
            )}`,
        '',
        approvable.items.length === 0
          ? 'Nothing awaits your approval.'
          : `Awaiting your approval (phigate approve ID)\n${table(
              ['ID', 'REQUESTER', 'ROLE', 'RESOURCE', 'ASKED'],
              approvable.items.map((r) => [
                r.id,
                r.requester?.displayName ?? '',
                r.role,
                r.resource,
                r.createdAt ? when(r.createdAt, times) : '',
              ]),
            )}`,
      ];
      console.log(lines.join('\n'));
    });

  program
    .command('token')
    .description(
      'print the access token the CLI uses, for tools that call the API (the OpenAPI page’s Authorize); keep it secret',
    )
    .action(async () => {
      const g = globals();
      const token = await resolveToken(g);
      console.log(g.json ? jsonText({ accessToken: token }) : token);
    });

  program
    .command('completion')
    .description('print a shell completion script: eval "$(phigate completion bash)"; fish: … | source')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
