/**
 * A real HTTP webhook receiver for alert tests: it verifies every request's Standard Webhooks signature with the
 * reference library (`standardwebhooks` from npm, not phigate's code), records what it accepted, and answers what
 * the test scripts (500s for a while, a hang, refusal). It can be closed and opened again on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify, type KeyObject } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly body: string;
  /** The v1 (HMAC) signature verified with the reference library; undefined when no secret was given. */
  readonly verified: boolean | undefined;
  /** The v1a (Ed25519) signature verified with node:crypto; undefined when no public key was given. */
  readonly verifiedV1a: boolean | undefined;
  /** The status answered. */
  readonly status: number;
}

export type Answer = 'ok' | 'fail' | 'hang';

export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** What the next requests are answered with (default: `ok`). */
  answer: (req: { id: string; n: number }) => Answer;
  /** Ends hanging requests (answering 200) and closes the server. */
  close(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
  /** Answers every hanging request with 200. */
  releaseHanging(): void;
}

export async function startWebhookReceiver(
  secret?: string,
  port = 0,
  ed25519PublicKey?: KeyObject,
): Promise<WebhookReceiver> {
  const verifier = secret !== undefined ? new Webhook(secret) : undefined;
  const hanging = new Set<ServerResponse>();
  let server: Server;
  let n = 0;
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answer: () => 'ok',
    close: async () => {
      receiver.releaseHanging();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    reopen: async () => {
      server = make();
      await listen(server, port);
    },
    releaseHanging: () => {
      for (const res of hanging) res.writeHead(200).end();
      hanging.clear();
    },
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    let verified: boolean | undefined;
    if (verifier !== undefined) {
      try {
        verifier.verify(body, headers);
        verified = true;
      } catch {
        verified = false;
      }
    }
    let verifiedV1a: boolean | undefined;
    if (ed25519PublicKey !== undefined) {
      // The reference library verifies v1 only; v1a is Ed25519 over the same `id.timestamp.body`.
      const content = Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`);
      verifiedV1a = headers['webhook-signature']
        .split(' ')
        .filter((s) => s.startsWith('v1a,'))
        .some((s) => verify(null, content, ed25519PublicKey, Buffer.from(s.slice(4), 'base64')));
      if (!verifiedV1a) verified = false;
    }
    const answer = verified === false ? 'fail' : receiver.answer({ id: headers['webhook-id'], n: n++ });
    const status = answer === 'fail' ? (verified === false ? 401 : 500) : 200;
    receiver.received.push({
      id: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      body,
      verified,
      verifiedV1a,
      status,
    });
    if (answer === 'hang') hanging.add(res);
    else res.writeHead(status).end();
  };
  const make = (): Server => createServer((req, res) => void handle(req, res));
  server = make();
  port = await listen(server, port);
  (receiver as { url: string }).url = `http://127.0.0.1:${port}/hook`;
  return receiver;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}
