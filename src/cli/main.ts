/**
 * The `phigate` command. A thin client of the API (sign in, request, approve, revoke…), plus the commands that run
 * locally: `serve`, `demo`, and `policy check|test`.
 */
import { Command, CommanderError } from 'commander';
import { apiUrl, type GlobalOptions } from './api-client.js';
import { registerAccessCommands } from './commands-access.js';
import { registerAlertCommands } from './commands-alerts.js';
import { registerAuditCommands } from './commands-audit.js';
import { registerConnectCommand } from './commands-connect.js';
import { registerAuthCommands } from './commands-auth.js';
import { registerLocalCommands } from './commands-local.js';
import { registerSessionCommands } from './commands-session.js';
import { phigateVersion } from './version.js';
import { isPhigateError } from '../lib/errors.js';
import { CliError, EXIT, EXIT_CODES_HELP, exitCodeForKind, type Reason } from './exit-codes.js';
import { jsonText, safe } from './terminal-text.js';

export function buildProgram(): Command {
  const program = new Command('phigate')
    .description('Just-in-time, policy-driven, audited access to protected health information.')
    .option(
      '--api <url>',
      'phigate API URL (env PHIGATE_API_URL)',
      apiUrl,
      process.env['PHIGATE_API_URL'] ?? 'http://127.0.0.1:8740',
    )
    .option(
      '--token <token>',
      'access token to use instead of the cached one (env PHIGATE_TOKEN)',
      process.env['PHIGATE_TOKEN'],
    )
    .version(phigateVersion(), '-V, --version', 'print phigate’s version')
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError()
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  registerLocalCommands(program, globals);
  registerAuthCommands(program, globals);
  registerAccessCommands(program, globals);
  registerConnectCommand(program, globals);
  registerAuditCommands(program, globals);
  registerAlertCommands(program, globals);
  registerSessionCommands(program, globals);
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
    const json = program.opts<GlobalOptions>().json === true;
    const report = (
      message: string,
      code: string | undefined,
      exitCode: number,
      reasons: readonly Reason[] = [],
    ): number => {
      // --json keeps the structure: the first line is the error, each reason stays an object of its own.
      if (json)
        console.error(jsonText({ error: message.split('\n')[0], code: code ?? null, reasons, exitCode }));
      else console.error(`phigate: ${message}`);
      return exitCode;
    };
    if (err instanceof CliError) return report(err.message, err.code, err.exitCode, err.reasons);
    // Local errors (config, policy, login) may span lines, each of which may quote the file or the issuer.
    if (isPhigateError(err)) {
      return report(err.message.split('\n').map(safe).join('\n'), err.code, exitCodeForKind(err.kind));
    }
    // Anything else is a defect: say what, not where (the stack is for a debugger, not for the terminal).
    return report(safe(err instanceof Error ? err.message : String(err)), undefined, EXIT.unexpected);
  }
}

process.exitCode = await main(process.argv.slice(2));
