/**
 * The `phigate` command. A thin client of the API (sign in, request, approve, revoke…), plus the commands that run
 * locally: `serve`, `demo`, and `policy check|test`.
 */
import { Command, CommanderError } from 'commander';
import type { GlobalOptions } from './api-client.js';
import { registerAccessCommands } from './commands-access.js';
import { registerAuthCommands } from './commands-auth.js';
import { registerLocalCommands } from './commands-local.js';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { safe } from './terminal-text.js';

export function buildProgram(): Command {
  const program = new Command('phigate')
    .description('Just-in-time, policy-driven, audited access to protected health information.')
    .option(
      '--api <url>',
      'phigate API URL (env PHIGATE_API_URL)',
      process.env['PHIGATE_API_URL'] ?? 'http://127.0.0.1:8740',
    )
    .option(
      '--token <token>',
      'access token to use instead of the cached one (env PHIGATE_TOKEN)',
      process.env['PHIGATE_TOKEN'],
    )
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError()
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  registerLocalCommands(program, globals);
  registerAuthCommands(program, globals);
  registerAccessCommands(program, globals);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        ? EXIT.ok
        : EXIT.usage;
    }
    if (err instanceof CliError) {
      if (program.opts<GlobalOptions>().json)
        console.error(JSON.stringify({ error: err.message, code: err.code ?? null }));
      else console.error(`phigate: ${err.message}`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    console.error(`phigate: ${safe(message)}`);
    // Errors from local modules (config, policy, store) carry PhigateError codes.
    return code === 'config.invalid' || code === 'policy.invalid' || code === 'policy.missing'
      ? EXIT.invalid
      : EXIT.unexpected;
  }
}

process.exitCode = await main(process.argv.slice(2));
