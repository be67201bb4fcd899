/**
 * Webhook delivery: one signed POST per attempt. The `webhook-id` is the alert's message id on every retry (the
 * receiver's idempotency key) and the timestamp is the attempt's (receivers refuse stale ones). Redirects are not
 * followed: a signed alert goes to the configured URL or nowhere.
 */
import type { KeyObject } from 'node:crypto';
import { DeliveryFailure, type AlertChannel } from './channel.js';
import type { Clock } from '../lib/clock.js';
import { signatureHeaders } from './webhook-signature.js';
import { webhookBody, type WebhookFormat } from './webhook-templates.js';

export interface WebhookChannelOptions {
  readonly name: string;
  readonly url: string;
  readonly format: WebhookFormat;
  readonly hmacSecret?: string | undefined;
  readonly ed25519?: KeyObject | undefined;
  /** PagerDuty's integration key. */
  readonly routingKey?: string | undefined;
  readonly source?: string | undefined;
  readonly userAgent: string;
  readonly clock: Clock;
}

export function createWebhookChannel(options: WebhookChannelOptions): AlertChannel {
  return {
    name: options.name,
    type: 'webhook',
    async deliver(message, signal) {
      const body = webhookBody(options.format, message, {
        routingKey: options.routingKey,
        source: options.source,
      });
      const timestamp = Math.floor(options.clock.now().getTime() / 1000);
      const headers = {
        'content-type': 'application/json',
        'user-agent': options.userAgent,
        ...signatureHeaders(
          { hmacSecret: options.hmacSecret, ed25519: options.ed25519 },
          message.messageId,
          timestamp,
          body,
        ),
      };
      const response = await fetch(options.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal,
      });
      // The body is not read (it is not stored either): cancel it so the connection can be reused.
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status > 299)
        throw new DeliveryFailure(`HTTP ${response.status}`);
    },
  };
}
