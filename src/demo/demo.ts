/**
 * `phigate demo`: phigate on embedded defaults — its own PostgreSQL under ./.phigate, the development issuer with
 * demo users, and the example clinic policy (all synthetic). Without --script it serves until Ctrl-C and prints what
 * to try; with --script it plays the story and exits 0 only if every step behaved.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.js';
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

const DEFAULT_API = 'http://127.0.0.1:8740';

/** What to try, copy-pasteable as printed: no placeholder that fails when pasted literally. */
export function instructions(running: {
  readonly url: string;
  readonly dataDir: string;
  readonly gateway?: { readonly host: string; readonly port: number } | undefined;
}): string[] {
  const { url } = running;
  const lines = [
    `API: ${url}   docs: ${url}/docs   OpenAPI: ${url}/openapi.json`,
    ...(running.gateway
      ? [
          `PostgreSQL gateway: ${running.gateway.host}:${running.gateway.port} (clinic-db, once you hold a grant)`,
        ]
      : []),
    'Demo users: alice (support), dan (analyst), olivia (on-call physician), carol and chris (clinical leads,',
    '            approvers), priya (privacy office, auditor), adam (admin).',
    'Try, in another terminal (`npm link` once makes `phigate` itself several times faster than `npx phigate`):',
  ];
  // Not the default port: one variable for the whole session instead of --api on every line.
  if (url !== DEFAULT_API) lines.push(`  export PHIGATE_API_URL=${url}`);
  lines.push(
    '  npx phigate login --dev-user dan             # sign in as Dan',
    '  npx phigate roles                            # what Dan may request',
    '  npx phigate request --resource clinic-db --role analyst-encounters --duration 10m \\',
    '      --purpose HQUALIMP --justification "Readmission review, encounter 42" --patient MRN-DEMO-0001',
    '  npx phigate login --dev-user carol && npx phigate requests --scope approvable   # Dr. Carol Lead',
    '  npx phigate approve ID                       # ID: the request id printed above',
    "  npx phigate login --dev-user dan && npx phigate grants                   # Dan's grant, active",
    "  npx phigate connect clinic-db --psql         # psql through the gateway, as the grant's own role",
    '  npx phigate login --dev-user olivia && npx phigate request --resource clinic-db \\',
    '      --role oncall-breakglass --purpose BTG --justification "Unresponsive patient in the ED"  # break-glass',
    '  npx phigate login --dev-user priya && npx phigate audit verify           # the privacy office',
    '  npx phigate audit tail -n 10 && npx phigate audit disclosures --patient MRN-DEMO-0001',
    '  npx phigate demo --script                    # the whole story, unattended, in its own data directory',
    `Press Ctrl-C to stop; state stays in ${running.dataDir} for the next start.`,
  );
  return lines;
}

/**
 * The scripted story plays in a data directory of its own below the demo's, so that it neither meets the grants
 * made by hand in the interactive demo nor competes with a demo that is serving (one owner per directory).
 */
export function scriptDataDir(configPath: string | undefined): string {
  const { config } = loadConfig({ file: configPath });
  return path.join(config.dataDir, 'script');
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
    await serveUntilSignal(start, (running) => instructions(running).forEach((l) => print(l)));
    return 0;
  }
  const dataDir = scriptDataDir(options.configPath);
  const running = await startPhigate({ ...start, env: { ...process.env, PHIGATE_DATA_DIR: dataDir } });
  const clinicAdminUrl = clinic?.adminUrl;
  try {
    print(`phigate is serving at ${running.url}, with its own state in ${dataDir}; playing the demo story:`);
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
