/**
 * A real rsyslogd (Debian's rsyslog + rsyslog-openssl) for alert tests: its own configuration in a temporary
 * directory, imtcp with TLS (the openssl driver, RFC 5425), every message written to a file the test reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSignedCertificate, type SelfSignedCertificate } from '../../src/lib/self-signed-cert.js';

export const RSYSLOGD = process.env.PHIGATE_TEST_RSYSLOGD ?? '/usr/sbin/rsyslogd';

export interface Rsyslog {
  readonly port: number;
  /** The CA the server's certificate chains to (it is self-signed: the certificate itself). */
  readonly caPem: string;
  /** Lines written so far: `MSGID|STRUCTURED-DATA|MSG` as rsyslog parsed them. */
  lines(): string[];
  stop(): Promise<void>;
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** `port` and `cert`: start again where a stopped one was (a SIEM restarted), with the same certificate. */
export async function startRsyslog(
  again: { readonly port: number; readonly cert: SelfSignedCertificate } | undefined = undefined,
): Promise<Rsyslog & { readonly cert: SelfSignedCertificate }> {
  if (!existsSync(RSYSLOGD)) {
    throw new Error(`${RSYSLOGD} is missing: install the Debian packages rsyslog and rsyslog-openssl`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-rsyslog-'));
  const cert =
    again?.cert ??
    createSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  writeFileSync(path.join(dir, 'cert.pem'), cert.certPem);
  writeFileSync(path.join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  const out = path.join(dir, 'out.log');
  // rsyslogd picks the port itself and writes it to a file: a port probed here and handed over could be taken
  // by another process in between.
  const portFile = path.join(dir, 'port');
  writeFileSync(
    path.join(dir, 'rsyslog.conf'),
    [
      `global(workDirectory="${dir}" DefaultNetstreamDriver="ossl"`,
      `  DefaultNetstreamDriverCAFile="${dir}/cert.pem" DefaultNetstreamDriverCertFile="${dir}/cert.pem"`,
      `  DefaultNetstreamDriverKeyFile="${dir}/key.pem")`,
      'module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")',
      `input(type="imtcp" port="${again?.port ?? 0}" address="127.0.0.1" listenPortFileName="${portFile}")`,
      'template(name="fields" type="string" string="%msgid%|%structured-data%|%msg%\\n")',
      `*.* action(type="omfile" file="${out}" template="fields")`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    RSYSLOGD,
    ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  // rsyslogd writes the port file only for port 0.
  const port = (): number =>
    again?.port ?? (existsSync(portFile) ? Number(readFileSync(portFile, 'utf8').trim()) || 0 : 0);
  while (port() === 0 || !(await accepts(port()))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rsyslogd did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: port(),
    caPem: cert.certPem,
    cert,
    lines: () =>
      existsSync(out)
        ? readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : [],
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
