/**
 * `phigate serve`: run until SIGINT/SIGTERM, then stop in order (stop accepting → expiry timers → bus → pool →
 * embedded PostgreSQL). SIGHUP reloads the policy; an invalid one is reported and the old one stays in force.
 */
import { startPhigate, type RunningPhigate, type StartOptions } from './start.js';

export async function serveUntilSignal(
  options: StartOptions,
  onStarted?: (running: RunningPhigate) => void,
): Promise<void> {
  const running = await startPhigate(options);
  onStarted?.(running);
  await new Promise<void>((resolve) => {
    const onHup = (): void => void running.reloadPolicy();
    const onStop = (signal: NodeJS.Signals): void => {
      running.logger.info({ signal }, 'stopping');
      process.off('SIGHUP', onHup);
      running.stop().then(resolve, (err: unknown) => {
        running.logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGHUP', onHup);
    process.once('SIGINT', onStop);
    process.once('SIGTERM', onStop);
  });
}
