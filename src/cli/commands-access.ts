/** `roles`, `request`, `requests`, `show`, `approve`, `deny`, `cancel`, `grants`, `revoke`, `review`. */
import { Option, type Command } from 'commander';
import { createApiClient, type GlobalOptions } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { minutes, requestDetail, requestTable, type RequestLike } from './format.js';
import { startSpinner } from './spinner.js';
import { jsonText, safe, table } from './terminal-text.js';

interface Page {
  items: RequestLike[];
  nextCursor?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Request and grant ids are UUIDs: anything else is a typo (or a placeholder pasted as is), not an unknown id. */
function idArgument(kind: 'request' | 'grant'): (text: string) => string {
  return (text) => {
    if (UUID.test(text)) return text;
    throw new CliError(
      `${safe(text)} is not a ${kind} id: ids are UUIDs (e.g. 92914762-1a9a-475b-bfd2-7810d2b8c4d9), ` +
        `as \`phigate request\` and \`phigate ${kind === 'grant' ? 'grants' : 'requests'}\` print them`,
      EXIT.usage,
      'cli.id-invalid',
    );
  };
}

/**
 * Required options are checked in the action, after commander has refused unknown options: otherwise a mistyped
 * flag is reported as a missing one ("required option '--resource' not specified" for `--resorce`).
 */
function requireOptions(opts: Record<string, unknown>, flags: Record<string, string>): void {
  const missing = Object.entries(flags).filter(([key]) => opts[key] === undefined);
  if (missing.length > 0) {
    throw new CliError(
      `required option(s) not specified: ${missing.map(([, flag]) => flag).join(', ')}`,
      EXIT.usage,
      'cli.option-missing',
    );
  }
}

function print(g: GlobalOptions, value: unknown, human: () => string): void {
  console.log(g.json ? jsonText(value) : human());
}

interface ListOptions {
  scope?: string;
  status?: string;
  limit?: string;
  cursor?: string;
}

function listQuery(opts: ListOptions): string {
  const q = new URLSearchParams();
  if (opts.scope) q.set('scope', opts.scope);
  if (opts.status) q.set('status', opts.status);
  if (opts.limit) q.set('limit', opts.limit);
  if (opts.cursor) q.set('cursor', opts.cursor);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The command that shows the next page: the same filters and page size (and API), the new cursor. */
export function nextPageCommand(name: string, opts: ListOptions, cursor: string, g: GlobalOptions): string {
  const parts = ['phigate'];
  // An explicit --api that differs from the environment's would otherwise be lost too.
  if (g.api !== (process.env['PHIGATE_API_URL'] ?? 'http://127.0.0.1:8740')) parts.push('--api', g.api);
  parts.push(name);
  if (opts.scope) parts.push('--scope', opts.scope);
  if (opts.status) parts.push('--status', opts.status);
  if (opts.limit) parts.push('--limit', opts.limit);
  parts.push('--cursor', cursor);
  return parts
    .map((p) => (/^[\w@%+=:,./-]+$/.test(p) ? safe(p) : `'${safe(p).replaceAll("'", "'\\''")}'`))
    .join(' ');
}

export function registerAccessCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('roles')
    .description('roles you may request')
    .action(async () => {
      const g = globals();
      const roles = await (
        await createApiClient(g)
      ).call<{
        items: {
          name: string;
          resource: string;
          maxDurationMs: number;
          purposes: string[];
          emergency: boolean;
          patientScope: string;
          careRelation?: string;
          approval?: { count: number; groups: string[] };
        }[];
      }>('GET', '/v1/roles');
      print(g, roles, () =>
        roles.items.length === 0
          ? '(no roles: your groups are not eligible for any)'
          : table(
              ['ROLE', 'RESOURCE', 'MAX', 'PURPOSES', 'PATIENTS', 'APPROVAL'],
              roles.items.map((r) => [
                r.name,
                r.resource,
                minutes(r.maxDurationMs),
                r.purposes.join(','),
                r.careRelation ? `yours (${r.careRelation})` : r.patientScope,
                r.emergency
                  ? 'break-glass (none, reviewed after)'
                  : r.approval
                    ? `${r.approval.count} of ${r.approval.groups.join('/')}`
                    : '',
              ]),
            ),
      );
    });

  program
    .command('request')
    .description('ask for access; the policy grants at once, asks approvers, or refuses')
    .option('--resource <name>', 'protected resource, e.g. clinic-db (required)')
    .option('--role <name>', 'role to request, see `phigate roles` (required)')
    .option('--duration <d>', 'how long: 30m, 2h, 1h30m or ISO 8601 (default: the role’s)')
    .option('--purpose <code>', 'HL7 v3 purpose of use: TREAT, ETREAT, BTG, HOPERAT, … (required)')
    .option('--justification <text>', 'why you need it, stored as data, shown to approvers (required)')
    .option('--ticket <ref>', 'ticket reference')
    .option('--patient <id>', 'a patient id this access is for (repeat for several)', collect)
    .option('--wait', 'wait until the request is decided')
    .action(
      async (opts: {
        resource: string;
        role: string;
        duration?: string;
        purpose: string;
        justification: string;
        ticket?: string;
        patient?: string[];
        wait?: boolean;
      }) => {
        requireOptions(opts, {
          resource: '--resource <name>',
          role: '--role <name>',
          purpose: '--purpose <code>',
          justification: '--justification <text>',
        });
        const g = globals();
        const api = await createApiClient(g);
        let r = await api.call<RequestLike>('POST', '/v1/requests', {
          resource: opts.resource,
          role: opts.role,
          purpose: opts.purpose,
          justification: opts.justification,
          ...(opts.duration ? { duration: opts.duration } : {}),
          ...(opts.ticket ? { ticket: opts.ticket } : {}),
          ...(opts.patient ? { patientIds: opts.patient } : {}),
        });
        if (opts.wait && r.status === 'pending') {
          const spinner = startSpinner(`request ${safe(r.id)} is pending approval…`);
          try {
            while (r.status === 'pending') {
              await new Promise((res) => setTimeout(res, 1000));
              r = await api.call<RequestLike>('GET', `/v1/requests/${encodeURIComponent(r.id)}`);
            }
          } finally {
            spinner.stop();
          }
        }
        print(g, r, () => requestDetail(r));
        if (opts.wait && r.status !== 'active')
          throw new CliError(`request ended ${safe(r.status)}`, EXIT.forbidden);
      },
    );

  for (const [name, path, description] of [
    ['requests', '/v1/requests', 'requests you may see (--scope mine|approvable|all)'],
    ['grants', '/v1/grants', 'active and past grants you may see'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .addOption(
        new Option('--scope <scope>', 'mine, approvable or all (auditors and admins)').choices([
          'mine',
          'approvable',
          'all',
        ]),
      )
      .option('--status <list>', 'comma-separated statuses, e.g. pending,active')
      .option('--limit <n>', 'page size (≤ 200)')
      .option('--cursor <c>', 'the next page: the cursor the previous page ended with')
      .action(async (opts: ListOptions) => {
        const g = globals();
        const page = await (await createApiClient(g)).call<Page>('GET', `${path}${listQuery(opts)}`);
        print(g, page, () => requestTable(page.items));
        // On stderr, so that the table on stdout stays just the table.
        if (!g.json && page.nextCursor)
          process.stderr.write(`more: ${nextPageCommand(name, opts, page.nextCursor, g)}\n`);
      });
  }

  program
    .command('show')
    .argument('<id>', 'request or grant id', idArgument('request'))
    .description('one request, with its approvals and the reasons of its decision')
    .action(async (id: string) => {
      const g = globals();
      const r = await (
        await createApiClient(g)
      ).call<RequestLike>('GET', `/v1/requests/${encodeURIComponent(id)}`);
      print(g, r, () => requestDetail(r));
    });

  for (const verdict of ['approve', 'deny'] as const) {
    program
      .command(verdict)
      .argument('<id>', 'request id', idArgument('request'))
      .option('--comment <text>', 'note for the requester and the audit log')
      .description(verdict === 'approve' ? 'approve a request (never your own)' : 'deny a request')
      .action(async (id: string, opts: { comment?: string }) => {
        const g = globals();
        const r = await (
          await createApiClient(g)
        ).call<RequestLike>(
          'POST',
          `/v1/requests/${encodeURIComponent(id)}/${verdict}`,
          opts.comment ? { comment: opts.comment } : {},
        );
        print(g, r, () => requestDetail(r));
      });
  }

  program
    .command('cancel')
    .argument('<id>', 'request id', idArgument('request'))
    .description('withdraw your pending request')
    .action(async (id: string) => {
      const g = globals();
      const r = await (
        await createApiClient(g)
      ).call<RequestLike>('POST', `/v1/requests/${encodeURIComponent(id)}/cancel`);
      print(g, r, () => requestDetail(r));
    });

  program
    .command('revoke')
    .argument('<id>', 'grant id', idArgument('grant'))
    .option('--reason <text>', 'why the grant ends early')
    .description('end a grant now')
    .action(async (id: string, opts: { reason?: string }) => {
      const g = globals();
      const r = await (
        await createApiClient(g)
      ).call<RequestLike>(
        'POST',
        `/v1/grants/${encodeURIComponent(id)}/revoke`,
        opts.reason ? { reason: opts.reason } : {},
      );
      print(g, r, () => `${safe(r.id)}: ${safe(r.status)}`);
    });

  program
    .command('review')
    .argument('<id>', 'break-glass grant id')
    .requiredOption('--outcome <outcome>', 'appropriate or inappropriate')
    .option('--notes <text>', 'what the review found (stored as data in the audit log)')
    .description('close the review of a break-glass grant (auditors and admins; never your own)')
    .action(async (id: string, opts: { outcome: string; notes?: string }) => {
      const g = globals();
      const r = await (
        await createApiClient(g)
      ).call<RequestLike>('POST', `/v1/grants/${encodeURIComponent(id)}/review`, {
        outcome: opts.outcome,
        ...(opts.notes ? { notes: opts.notes } : {}),
      });
      print(g, r, () => `${safe(r.id)}: reviewed (${safe(opts.outcome)})`);
    });
}
