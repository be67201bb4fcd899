import { createServer } from 'node:net';

export interface ReservedPort {
  readonly port: number;
  release(): Promise<void>;
}

/**
 * Port 0 means "any": the development issuer must know its own URL before the app listens, so the port is chosen
 * first and held by a placeholder listener until the moment the app takes it over. Releasing the chosen port early
 * (as a probe that closes at once would) lets any other process started meanwhile be given the same ephemeral port.
 */
export async function reservePort(host: string, port: number): Promise<ReservedPort> {
  if (port !== 0) return { port, release: async () => undefined };
  const placeholder = createServer();
  const chosen = await new Promise<number>((resolve, reject) => {
    placeholder.once('error', reject);
    placeholder.listen(0, host, () => {
      const address = placeholder.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('no port'));
    });
  });
  let released: Promise<void> | undefined;
  return {
    port: chosen,
    release: () => (released ??= new Promise<void>((resolve) => placeholder.close(() => resolve()))),
  };
}
