/**
 * A real rsyslogd (Debian's rsyslog + rsyslog-openssl) for alert tests: its own configuration in a temporary
 * directory, imtcp with TLS (the openssl driver, RFC 5425), every message written to a file the test reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSignedCertificate } from '../../src/lib/self-signed-cert.js';

export const RSYSLOGD = process.env.PHIGATE_TEST_RSYSLOGD ?? '/usr/sbin/rsyslogd';

export interface Rsyslog {
  readonly port: number;
  /** The CA the server's certificate chains to (it is self-signed: the certificate itself). */
  readonly caPem: string;
  /** Lines written so far: `MSGID|STRUCTURED-DATA|MSG` as rsyslog parsed them. */
  lines(): string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
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

export async function startRsyslog(): Promise<Rsyslog> {
  if (!existsSync(RSYSLOGD)) {
    throw new Error(`${RSYSLOGD} is missing: install the Debian packages rsyslog and rsyslog-openssl`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-rsyslog-'));
  const cert = createSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  writeFileSync(path.join(dir, 'cert.pem'), cert.certPem);
  writeFileSync(path.join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  const out = path.join(dir, 'out.log');
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'rsyslog.conf'),
    [
      `global(workDirectory="${dir}" DefaultNetstreamDriver="ossl"`,
      `  DefaultNetstreamDriverCAFile="${dir}/cert.pem" DefaultNetstreamDriverCertFile="${dir}/cert.pem"`,
      `  DefaultNetstreamDriverKeyFile="${dir}/key.pem")`,
      'module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")',
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
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
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rsyslogd did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    caPem: cert.certPem,
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
