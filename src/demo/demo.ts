/**
 * `phigate demo`: phigate on embedded defaults — its own PostgreSQL under ./.phigate, the development issuer with
 * demo users, and the example clinic policy (all synthetic). Without --script it serves until Ctrl-C and prints what
 * to try; with --script it plays the story and exits 0 only if every step behaved.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { UpstreamConfig } from '../config/schema.js';
import { serveUntilSignal } from '../server/serve.js';
import { startPhigate } from '../server/start.js';
import type { Store } from '../store/open-store.js';
import { handOverPatient, prepareDemoClinic } from './demo-clinic.js';
import { playDemoScript } from './demo-script.js';

export interface DemoOptions {
  readonly script: boolean;
  readonly port?: number | undefined;
  readonly configPath?: string | undefined;
  /** Seconds the scripted grant lasts before it must expire (default 20). */
  readonly grantSeconds?: number | undefined;
  readonly print?: (line: string) => void;
}

const POLICY_URL = new URL('../../examples/clinic-policy.yaml', import.meta.url);

export function demoPolicy(): { source: string; sourceName: string } {
  const file = fileURLToPath(POLICY_URL);
  return { source: readFileSync(file, 'utf8'), sourceName: file };
}

const BANNER = [
  '┌──────────────────────────────────────────────────────────────────────────┐',
  '│ phigate DEMO — development mode: anyone can sign in as a demo user.      │',
  '│ All patients and people here are synthetic. Never use this mode for PHI. │',
  '└──────────────────────────────────────────────────────────────────────────┘',
];

function instructions(url: string): string[] {
  const api = url === 'http://127.0.0.1:8740' ? '' : ` --api ${url}`;
  return [
    `API: ${url}   docs: ${url}/docs   OpenAPI: ${url}/openapi.json`,
    'Demo users: alice (support), dan (analyst), olivia (on-call physician), carol and chris (clinical leads,',
    '            approvers), priya (privacy office, auditor), adam (admin).',
    'Try, in another terminal:',
    `  npx phigate login${api} --dev-user dan       # sign in as Dan`,
    `  npx phigate roles${api}                      # what Dan may request`,
    `  npx phigate request${api} --resource clinic-db --role analyst-encounters --duration 10m \\`,
    '      --purpose HQUALIMP --justification "Readmission review, encounter 42" --patient MRN-DEMO-0001',
    `  npx phigate login${api} --dev-user carol && npx phigate approve${api} <request-id>   # Dr. Carol Lead`,
    `  npx phigate login${api} --dev-user dan && npx phigate grants${api}                   # Dan's grant, active`,
    `  npx phigate login${api} --dev-user olivia && npx phigate request${api} --resource clinic-db \\`,
    '      --role oncall-breakglass --purpose BTG --justification "Unresponsive patient in the ED"  # break-glass',
    `  npx phigate login${api} --dev-user priya && npx phigate audit verify${api}           # the privacy office`,
    `  npx phigate audit tail${api} -n 10 && npx phigate audit disclosures${api} --patient MRN-DEMO-0001`,
    '  npx phigate demo --script                   # the whole story, unattended (stop this one first)',
    'Press Ctrl-C to stop; state stays in ./.phigate for the next start.',
  ];
}

/** The gateway in front of the demo's synthetic clinic database, in the embedded PostgreSQL. */
function demoGateway(script: boolean, prepared: (clinic: UpstreamConfig) => void) {
  return async (store: Store, dataDir: string) => {
    if (store.embedded === undefined) {
      // An external store (database.url): the demo cannot create a clinic there; the gateway stays as configured.
      return {};
    }
    const clinic = await prepareDemoClinic({ superuserUrl: store.embedded.url, dataDir });
    prepared(clinic);
    // The scripted story picks any free port, so that it never collides with a demo already serving.
    return { enabled: true, ...(script ? { port: 0 } : {}), resources: { 'clinic-db': clinic } };
  };
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  for (const line of BANNER) print(line);
  let clinic: UpstreamConfig | undefined;
  const start = {
    configPath: options.configPath,
    // The scripted story needs no fixed port, and must not collide with a demo already serving on the default one.
    port: options.port ?? (options.script ? 0 : undefined),
    dev: true,
    policy: demoPolicy(),
    // Keep the demo's console readable: warnings and errors only (the development-issuer warning among them).
    logLevel: 'warn',
    gateway: demoGateway(options.script, (c) => (clinic = c)),
  };
  if (!options.script) {
    await serveUntilSignal(start, (running) => instructions(running.url).forEach((l) => print(l)));
    return 0;
  }
  const running = await startPhigate(start);
  const clinicAdminUrl = clinic?.adminUrl;
  try {
    print(`phigate is serving at ${running.url}; playing the demo story:`);
    const passed = await playDemoScript({
      apiUrl: running.url,
      mintToken: running.mintDevToken!,
      db: running.store.db,
      print,
      ...(options.grantSeconds ? { grantSeconds: options.grantSeconds } : {}),
      gateway: running.gateway
        ? {
            host: running.gateway.host,
            port: running.gateway.port,
            sslmode: running.gateway.tls ? 'require' : 'disable',
          }
        : undefined,
      careTeam:
        clinicAdminUrl === undefined
          ? undefined
          : {
              handOver: (patientId, clinician) => handOverPatient(clinicAdminUrl, patientId, clinician),
              checkNow: () => running.careRelations.checkNow(),
            },
    });
    return passed ? 0 : 1;
  } finally {
    await running.stop();
  }
}
