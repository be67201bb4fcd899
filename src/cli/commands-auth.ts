/** `login`, `logout`, `whoami`: the person behind the CLI. */
import type { Command } from 'commander';
import { deviceLogin } from '../identity/device-login.js';
import { createApiClient, publicGet, tokenCache, type GlobalOptions } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { startSpinner } from './spinner.js';
import { jsonText, safe } from './terminal-text.js';

interface AuthConfig {
  issuer: string | null;
  audience: string | null;
  cliClientId: string | null;
  devIssuer: boolean;
}

function isAbsoluteUri(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** The development issuer's verification page, answered by the CLI itself (`--dev-user`, demo only). */
async function completeDevSignIn(verificationUri: string, userCode: string, username: string): Promise<void> {
  const res = await fetch(verificationUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ user_code: userCode, username }).toString(),
  });
  if (!res.ok)
    throw new CliError(
      `the development issuer refused demo user ${safe(username)}`,
      EXIT.invalid,
      'login.dev-user',
    );
}

export function registerAuthCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('login')
    .description('sign in with the OIDC device flow and cache the token (file mode 0600)')
    .option('--issuer <url>', 'issuer to sign in with (default: the one the API names)')
    .option('--client-id <id>', 'public client id for the CLI (default: the one the API names)')
    .option(
      '--dev-user <name>',
      'demo mode only: sign in as a demo user (alice, dan, olivia, carol, chris, priya, adam)',
    )
    .action(async (opts: { issuer?: string; clientId?: string; devUser?: string }) => {
      const g = globals();
      const auth = await publicGet<AuthConfig>(g.api, '/v1/auth/config');
      const issuer = opts.issuer ?? auth.issuer;
      const clientId = opts.clientId ?? auth.cliClientId;
      if (!issuer || !clientId)
        throw new CliError('the API names no identity provider; pass --issuer and --client-id', EXIT.usage);
      if (opts.devUser && !auth.devIssuer) {
        throw new CliError(
          '--dev-user works only against a phigate running in demo (development) mode',
          EXIT.usage,
        );
      }
      let devSignIn: Promise<void> | undefined;
      let devSignInError: Error | undefined;
      // A refused demo sign-in will never be approved: stop polling at once rather than until the code expires.
      const abort = new AbortController();
      const spinner = { current: undefined as ReturnType<typeof startSpinner> | undefined };
      const login = deviceLogin({
        issuer,
        clientId,
        ...(auth.audience && isAbsoluteUri(auth.audience) ? { resource: auth.audience } : {}),
        signal: abort.signal,
        onPrompt(verificationUri, userCode, complete) {
          if (opts.devUser) {
            devSignIn = completeDevSignIn(verificationUri, userCode, opts.devUser).catch((err: unknown) => {
              devSignInError = err instanceof Error ? err : new Error(String(err));
              abort.abort();
            });
          } else {
            process.stderr.write(
              `Open ${safe(complete ?? verificationUri)}\nand enter the code ${safe(userCode)}\n`,
            );
          }
          spinner.current = startSpinner('waiting for you to sign in…');
        },
      });
      const result = await login
        .catch((err: unknown) => {
          throw devSignInError ?? err;
        })
        .finally(() => spinner.current?.stop());
      if (devSignIn) await devSignIn;
      if (devSignInError !== undefined) throw devSignInError;
      await tokenCache().save(g.api, {
        accessToken: result.accessToken,
        issuer: result.issuer,
        expiresAt: result.expiresAt?.toISOString(),
      });
      const me = await (
        await createApiClient({ ...g, token: result.accessToken })
      ).call<{ displayName: string; id: string }>('GET', '/v1/whoami');
      if (g.json) console.log(jsonText(me));
      else console.log(`Signed in as ${safe(me.displayName)} (${safe(me.id)})`);
    });

  program
    .command('logout')
    .description('forget the cached token for this API')
    .action(async () => {
      await tokenCache().clear(globals().api);
      if (!globals().json) console.log('Signed out.');
    });

  program
    .command('whoami')
    .description('who phigate thinks you are: id, groups, MFA')
    .action(async () => {
      const g = globals();
      const me = await (
        await createApiClient(g)
      ).call<{ id: string; displayName: string; groups: string[]; mfa: boolean }>('GET', '/v1/whoami');
      if (g.json) return console.log(jsonText(me));
      console.log(
        `${safe(me.displayName)} <${safe(me.id)}>\n  groups  ${me.groups.map(safe).join(', ') || '(none)'}\n  mfa     ${me.mfa ? 'yes' : 'no'}`,
      );
    });
}
