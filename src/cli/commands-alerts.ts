/**
 * `phigate alerts`: the alerts with their delivery state per channel, and `phigate alerts redeliver <id>`, which
 * replays a dead letter (auditors).
 */
import type { Command } from 'commander';
import { createApiClient, type GlobalOptions } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { jsonText, safe, table } from './terminal-text.js';
import { systemTimes, when } from './times.js';

interface Delivery {
  channel: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt?: string;
  deliveredAt?: string;
  lastError?: string;
}

interface AlertItem {
  id: number;
  kind: string;
  severity: string;
  raisedAt: string;
  requestId?: string;
  routedAt?: string;
  deliveries: Delivery[];
}

/** One cell per channel: `soc: delivered`, `siem: pending (3 attempts, next in 2m: HTTP 500)`, `mail: DEAD …`. */
export function deliveryCell(d: Delivery, times = systemTimes()): string {
  const attempts = `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`;
  const error = d.lastError !== undefined ? `: ${d.lastError}` : '';
  switch (d.status) {
    case 'delivered':
      return `${d.channel}: delivered`;
    case 'dead':
      return `${d.channel}: DEAD (${attempts}${error})`;
    case 'pending':
      return d.attempts === 0
        ? `${d.channel}: pending`
        : `${d.channel}: retrying (${attempts}${d.nextAttemptAt ? `, next ${when(d.nextAttemptAt, times)}` : ''}${error})`;
  }
}

export function alertTable(items: readonly AlertItem[], times = systemTimes()): string {
  if (items.length === 0) return '(none)';
  return table(
    ['ID', 'RAISED', 'SEVERITY', 'KIND', 'REQUEST', 'DELIVERY'],
    items.map((a) => [
      a.id,
      when(a.raisedAt, times),
      a.severity,
      a.kind,
      a.requestId ?? '',
      a.routedAt === undefined
        ? 'not routed yet'
        : a.deliveries.length === 0
          ? '(no channel)'
          : a.deliveries.map((d) => deliveryCell(d, times)).join('; '),
    ]),
  );
}

function alertId(text: string): number {
  if (!/^[1-9]\d{0,14}$/.test(text)) throw new CliError('an alert id is a positive integer', EXIT.usage);
  return Number(text);
}

export function registerAlertCommands(program: Command, globals: () => GlobalOptions): void {
  const alerts = program
    .command('alerts')
    .description('alerts and their delivery per channel; replay dead letters (auditors)')
    .option('-n, --limit <n>', 'how many, newest first', '50')
    .option('--dead', 'only alerts with a dead letter')
    .option('--pending', 'only alerts with a delivery still pending')
    .option('--before <id>', 'alerts older than this id (the next page)')
    .action(async (opts: { limit: string; dead?: boolean; pending?: boolean; before?: string }) => {
      const g = globals();
      if (!/^[1-9]\d{0,2}$/.test(opts.limit) || Number(opts.limit) > 500) {
        throw new CliError('--limit must be an integer from 1 to 500', EXIT.usage);
      }
      if (opts.dead && opts.pending)
        throw new CliError('--dead and --pending exclude each other', EXIT.usage);
      const q = new URLSearchParams({ limit: opts.limit });
      if (opts.dead) q.set('status', 'dead');
      if (opts.pending) q.set('status', 'pending');
      if (opts.before !== undefined) q.set('before', String(alertId(opts.before)));
      const api = await createApiClient(g);
      const page = await api.call<{ items: AlertItem[]; nextBefore?: number }>(
        'GET',
        `/v1/alerts?${q.toString()}`,
      );
      if (g.json) {
        console.log(jsonText(page));
        return;
      }
      console.log(alertTable(page.items));
      if (page.nextBefore !== undefined) console.log(`(more: --before ${page.nextBefore})`);
    });

  alerts
    .command('redeliver <id>')
    .description('deliver a dead letter again, with fresh attempts and the same message id')
    .option('--channel <name>', 'only this channel (default: every channel where it is dead)')
    .action(async (id: string, opts: { channel?: string }) => {
      const g = globals();
      const api = await createApiClient(g);
      const result = await api.call<{ alertId: number; channels: string[] }>(
        'POST',
        `/v1/alerts/${alertId(id)}/redeliver`,
        opts.channel !== undefined ? { channel: opts.channel } : {},
      );
      if (g.json) console.log(jsonText(result));
      else
        console.log(
          `alert ${result.alertId}: redelivering to ${result.channels.map((c) => safe(c)).join(', ')}`,
        );
    });
}
