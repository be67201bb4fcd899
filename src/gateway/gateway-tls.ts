/**
 * The gateway's server certificate: the configured files, or — when none are configured — a self-signed one kept
 * under dataDir (made once, reused after), which is what the demo uses. Clients then connect with
 * `sslmode=require`, or `verify-full` with that certificate as their root.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { PhigateError } from '../lib/errors.js';
import { createSelfSignedCertificate } from '../lib/self-signed-cert.js';

export interface GatewayTls {
  readonly context: SecureContext;
  /** Where the certificate is, for clients that verify it. */
  readonly certFile: string;
  readonly generated: boolean;
}

export function loadGatewayTls(options: {
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly dataDir: string;
}): GatewayTls {
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new PhigateError(
      'invalid',
      'config.invalid',
      'gateway.tls needs both certFile and keyFile (or neither, for a generated development certificate)',
    );
  }
  let certFile = options.certFile;
  let keyFile = options.keyFile;
  let generated = false;
  if (certFile === undefined || keyFile === undefined) {
    const dir = path.resolve(options.dataDir, 'gateway-tls');
    certFile = path.join(dir, 'cert.pem');
    keyFile = path.join(dir, 'key.pem');
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const made = createSelfSignedCertificate({
        commonName: 'phigate gateway (self-signed, development)',
        altNames: ['localhost', '127.0.0.1', '::1'],
      });
      // Written aside and renamed, so a crash mid-write never leaves a half file that would stop every later start.
      writeFileSync(`${keyFile}.new`, made.keyPem, { mode: 0o600 });
      writeFileSync(`${certFile}.new`, made.certPem, { mode: 0o644 });
      renameSync(`${keyFile}.new`, keyFile);
      renameSync(`${certFile}.new`, certFile);
      generated = true;
    }
  }
  try {
    const context = createSecureContext({
      cert: readFileSync(certFile),
      key: readFileSync(keyFile),
      minVersion: 'TLSv1.2',
    });
    return { context, certFile, generated };
  } catch (err) {
    throw new PhigateError(
      'invalid',
      'config.invalid',
      `cannot use the gateway certificate ${certFile}: ${err instanceof Error ? err.message : String(err)}`,
      {},
      { cause: err },
    );
  }
}
