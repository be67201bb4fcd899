/** Commands that run here rather than call the API: `serve`, `demo`, `policy check`, `policy test`. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { compilePolicy } from '../policy/compile.js';
import { runPolicyTests } from '../policy/policy-tests.js';
import { fileProblem } from '../lib/file-problem.js';
import { policyWarnings } from '../policy/warnings.js';
import { formatProblem } from '../lib/yaml-source.js';
import type { GlobalOptions } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { jsonText, safe } from './terminal-text.js';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${fileProblem(err)}`, EXIT.usage);
  }
}

function compileOrExit(
  file: string,
  json: boolean | undefined,
): NonNullable<Extract<ReturnType<typeof compilePolicy>, { ok: true }>>['policy'] {
  const result = compilePolicy(readText(file), file);
  if (result.ok) return result.policy;
  if (json) console.log(jsonText({ ok: false, problems: result.problems }));
  else for (const p of result.problems) console.error(safe(formatProblem(file, p)));
  throw new CliError(`${file}: ${result.problems.length} problem(s)`, EXIT.policyFailed);
}

const port = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`invalid port ${text}`, EXIT.usage);
  return n;
};

export function registerLocalCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the phigate server (API, expiry) until SIGINT/SIGTERM; SIGHUP reloads the policy')
    .option('--config <file>', 'configuration file (default ./phigate.yaml, or PHIGATE_CONFIG)')
    .option('--port <n>', 'listen port (or PHIGATE_PORT)', port)
    .option('--dev', 'enable the development issuer with demo users (never in production)')
    .action(async (opts: { config?: string; port?: number; dev?: boolean }) => {
      const { serveUntilSignal } = await import('../server/serve.js');
      await serveUntilSignal({
        configPath: opts.config,
        port: opts.port,
        ...(opts.dev ? { dev: true } : {}),
      });
    });

  program
    .command('demo')
    .description(
      'run phigate on embedded defaults with demo users and the example clinic policy (synthetic data)',
    )
    .option('--script', 'play the demo story unattended; exit 0 only if every step behaved')
    .option('--port <n>', 'listen port (default 8740; --script picks a free one)', port)
    .option(
      '--grant-seconds <n>',
      'with --script: how long the demo grant lasts before it must expire',
      (t) => port(t),
    )
    .action(async (opts: { script?: boolean; port?: number; grantSeconds?: number }) => {
      const { runDemo } = await import('../demo/demo.js');
      const code = await runDemo({
        script: opts.script ?? false,
        port: opts.port,
        grantSeconds: opts.grantSeconds,
      });
      // The demo's own exit code, as documented for `demo --script` (0 only if every step behaved).
      if (code !== 0) throw new CliError('the demo script failed', code);
    });

  const policy = program.command('policy').description('check and test policy files offline');
  policy
    .command('check')
    .argument('<file>', 'policy YAML')
    .description(
      'validate a policy; problems are printed as file:line: key: message (exit 8), warnings on stderr (still exit 0)',
    )
    .action((file: string) => {
      const p = compileOrExit(file, globals().json);
      const warnings = policyWarnings(p);
      if (globals().json)
        console.log(jsonText({ ok: true, hash: p.hash, roles: [...p.roles.keys()], warnings }));
      else {
        for (const w of warnings) console.error(`${safe(file)}: warning: ${safe(w.message)} [${w.code}]`);
        console.log(
          `${safe(file)}: ok (${p.roles.size} roles, ${p.resources.size} resources, version ${p.hash.slice(0, 12)})` +
            (warnings.length > 0 ? `, ${warnings.length} warning(s)` : ''),
        );
      }
    });
  policy
    .command('test')
    .argument('<file>', 'policy YAML')
    .requiredOption('--cases <file>', 'YAML test cases: principal + request → expected decision')
    .description('run decision test cases against a policy')
    .action((file: string, opts: { cases: string }) => {
      const json = globals().json;
      const compiled = compileOrExit(file, json);
      const run = runPolicyTests(compiled, readText(opts.cases));
      if (!run.ok) {
        for (const p of run.problems) console.error(safe(formatProblem(opts.cases, p)));
        throw new CliError(`${opts.cases}: invalid test file`, EXIT.policyFailed);
      }
      const failed = run.results.filter((r) => !r.passed);
      if (json) console.log(jsonText({ ok: failed.length === 0, results: run.results }));
      else {
        for (const r of run.results)
          console.log(`${r.passed ? '✔' : '✘'} ${safe(r.name)}${r.passed ? '' : `\n    ${safe(r.message)}`}`);
        console.log(`${run.results.length - failed.length} passed, ${failed.length} failed`);
      }
      if (failed.length > 0) throw new CliError(`${failed.length} policy test(s) failed`, EXIT.policyFailed);
    });
}
