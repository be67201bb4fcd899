import { sql, type Kysely } from 'kysely';

/**
 * The alert outbox. An alert is routed once (`routed_at`): the channels its kind and severity are routed to get a
 * delivery row each, whose state is that channel's: pending (with the time of its next attempt), delivered, or dead
 * (attempts exhausted; replayable). A claim is a lease: `claim_id` names the worker that holds it until
 * `next_attempt_at`, so a worker that dies mid-delivery leaves the row due again when its lease ends.
 *
 * Alerts raised before this migration are marked routed: they were raised when no channel existed, and paging
 * someone for them now, possibly months later, would bury today's alerts.
 *
 * A trigger announces each new alert (NOTIFY at commit), so every replica's delivery worker wakes at once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table alert_events add column routed_at timestamptz;
    update alert_events set routed_at = created_at;
    create index alert_events_unrouted on alert_events (id) where routed_at is null;

    create table alert_deliveries (
      alert_id bigint not null references alert_events(id),
      channel text not null,
      status text not null check (status in ('pending', 'delivered', 'dead')),
      attempts integer not null default 0 check (attempts >= 0),
      next_attempt_at timestamptz not null,
      claim_id uuid,
      last_error text,
      last_attempt_at timestamptz,
      delivered_at timestamptz,
      created_at timestamptz not null,
      primary key (alert_id, channel)
    );
    create index alert_deliveries_due on alert_deliveries (next_attempt_at) where status = 'pending';
    create index alert_deliveries_dead on alert_deliveries (alert_id) where status = 'dead';

    create function phigate_alert_raised() returns trigger language plpgsql as $$
    begin
      perform pg_notify('phigate_alerts', new.id::text);
      return null;
    end $$;
    create trigger alert_events_notify after insert on alert_events
      for each row execute function phigate_alert_raised();
  `.execute(db);
}
