/**
 * Bodies of the webhook formats: phigate's own JSON (the Standard Webhooks `{type, timestamp, data}` envelope),
 * Slack and Microsoft Teams incoming webhooks, and the PagerDuty Events API v2. Each carries a plain link back into
 * phigate and no interactive element: approving needs phigate's own sign-in and MFA, never a chat button.
 */
import type { AlertMessage } from './alert-message.js';

export const WEBHOOK_FORMATS = ['json', 'slack', 'teams', 'pagerduty'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

export function webhookBody(
  format: WebhookFormat,
  m: AlertMessage,
  options: { readonly routingKey?: string | undefined; readonly source?: string | undefined } = {},
): string {
  switch (format) {
    case 'json':
      return JSON.stringify(jsonBody(m));
    case 'slack':
      return JSON.stringify(slackBody(m));
    case 'teams':
      return JSON.stringify(teamsBody(m));
    case 'pagerduty':
      return JSON.stringify(pagerDutyBody(m, options.routingKey ?? '', options.source ?? 'phigate'));
  }
}

function jsonBody(m: AlertMessage) {
  return {
    type: 'alert.raised',
    timestamp: m.raisedAt,
    data: {
      id: m.messageId,
      alertId: m.alertId,
      kind: m.kind,
      severity: m.severity,
      title: m.title,
      raisedAt: m.raisedAt,
      ...(m.requestId !== undefined ? { requestId: m.requestId } : {}),
      link: m.link,
      evidence: m.evidence,
    },
  };
}

/** One line of facts, e.g. `role: er-physician · resource: ehr`. */
function factsLine(m: AlertMessage): string {
  return Object.entries(m.evidence)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(' · ');
}

/** Slack mrkdwn treats `&`, `<` and `>` as control characters. */
const slackEscape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function slackBody(m: AlertMessage) {
  const headline = `[${m.severity.toUpperCase()}] ${m.title} (alert ${m.alertId})`;
  const facts = factsLine(m);
  return {
    text: headline,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${slackEscape(headline)}*` } },
      ...(facts === '' ? [] : [{ type: 'section', text: { type: 'mrkdwn', text: slackEscape(facts) } }]),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `<${slackEscape(m.link)}|Open in phigate> · kind ${slackEscape(m.kind)} · ${m.raisedAt}`,
          },
        ],
      },
    ],
  };
}

/** Teams Workflows incoming webhooks take an Adaptive Card in a message attachment. */
function teamsBody(m: AlertMessage) {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              weight: 'Bolder',
              size: 'Medium',
              wrap: true,
              color:
                m.severity === 'critical' ? 'Attention' : m.severity === 'warning' ? 'Warning' : 'Default',
              text: `[${m.severity.toUpperCase()}] ${m.title} (alert ${m.alertId})`,
            },
            {
              type: 'FactSet',
              facts: [
                { title: 'Kind', value: m.kind },
                { title: 'Raised', value: m.raisedAt },
                ...Object.entries(m.evidence).map(([k, v]) => ({ title: k, value: String(v) })),
              ],
            },
            { type: 'TextBlock', wrap: true, text: `[Open in phigate](${m.link})` },
          ],
        },
      },
    ],
  };
}

/** PagerDuty deduplicates on `dedup_key`: a retry of the same alert never opens a second incident. */
function pagerDutyBody(m: AlertMessage, routingKey: string, source: string) {
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: m.messageId,
    payload: {
      summary: `${m.title} (phigate alert ${m.alertId})`,
      source,
      severity: m.severity,
      timestamp: m.raisedAt,
      component: 'phigate',
      class: m.kind,
      custom_details: { alertId: m.alertId, requestId: m.requestId, ...m.evidence },
    },
    links: [{ href: m.link, text: 'Open in phigate' }],
  };
}
