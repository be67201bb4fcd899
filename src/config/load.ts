/**
 * Loads the one validated `Config`: `phigate.yaml` (or the file named by --config / PHIGATE_CONFIG) plus PHIGATE_*
 * environment overrides. Nothing else in phigate reads the environment for settings.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PhigateError } from '../lib/errors.js';
import { formatProblem, parseYamlWith } from '../lib/yaml-source.js';
import { resolveAlertFiles } from './alerts-schema.js';
import { configSchema, type Config } from './schema.js';

export { durationMs } from './schema.js';

export interface LoadedConfig {
  readonly config: Config;
  /** The file read, or undefined when running on defaults. */
  readonly file: string | undefined;
  /** Absolute policy file path (resolved against the config file's directory), if one is configured. */
  readonly policyFile: string | undefined;
}

export interface LoadOptions {
  readonly file?: string | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

const DEFAULT_FILE = 'phigate.yaml';

/** Environment variable → config key path, and how to read its text. */
const ENV_OVERRIDES: readonly { name: string; path: readonly string[]; parse: (v: string) => unknown }[] = [
  { name: 'PHIGATE_DATABASE_URL', path: ['database', 'url'], parse: (v) => v },
  { name: 'PHIGATE_HOST', path: ['server', 'host'], parse: (v) => v },
  { name: 'PHIGATE_PORT', path: ['server', 'port'], parse: (v) => (/^\d+$/.test(v) ? Number(v) : v) },
  { name: 'PHIGATE_PUBLIC_URL', path: ['server', 'publicUrl'], parse: (v) => v },
  { name: 'PHIGATE_POLICY_FILE', path: ['policy', 'file'], parse: (v) => v },
  { name: 'PHIGATE_DATA_DIR', path: ['dataDir'], parse: (v) => v },
  { name: 'PHIGATE_LOG_LEVEL', path: ['log', 'level'], parse: (v) => v },
  { name: 'PHIGATE_LOG_FORMAT', path: ['log', 'format'], parse: (v) => v },
  { name: 'PHIGATE_AUDIT_HMAC_KEY_FILE', path: ['audit', 'hmacKeyFile'], parse: (v) => v },
  { name: 'PHIGATE_AUDIT_SIGNING_KEY_FILE', path: ['audit', 'signingKeyFile'], parse: (v) => v },
  { name: 'PHIGATE_AUDIT_HMAC_KEY', path: ['audit', 'hmacKey'], parse: (v) => v },
  { name: 'PHIGATE_AUDIT_SIGNING_KEY', path: ['audit', 'signingKey'], parse: (v) => v },
  {
    name: 'PHIGATE_GATEWAY_ENABLED',
    path: ['gateway', 'enabled'],
    parse: (v) => (v === 'true' ? true : v === 'false' ? false : v),
  },
  {
    name: 'PHIGATE_GATEWAY_PORT',
    path: ['gateway', 'port'],
    parse: (v) => (/^\d+$/.test(v) ? Number(v) : v),
  },
];

function setIn(target: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function invalid(problems: readonly string[]): PhigateError {
  return new PhigateError('invalid', 'config.invalid', `invalid configuration:\n  ${problems.join('\n  ')}`, {
    problems,
  });
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.PHIGATE_CONFIG;
  const candidate = path.resolve(cwd, explicit ?? DEFAULT_FILE);
  let file: string | undefined;
  let raw: Record<string, unknown> = {};
  if (existsSync(candidate)) {
    file = candidate;
    const text = readFileSync(candidate, 'utf8');
    // First pass: the file alone, so that its errors carry its own line numbers.
    const parsed = parseYamlWith(text, configSchema);
    if (!parsed.ok) throw invalid(parsed.problems.map((p) => formatProblem(candidate, p)));
    raw = (parsed.document.toJS() as Record<string, unknown> | null) ?? {};
  } else if (explicit !== undefined) {
    throw new PhigateError('invalid', 'config.not-found', `configuration file not found: ${candidate}`);
  }

  // Second pass: with the environment applied; errors name the variable, never echo its value (it may be secret).
  for (const o of ENV_OVERRIDES) {
    const value = env[o.name];
    if (value !== undefined && value !== '') setIn(raw, o.path, o.parse(value));
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw invalid(
      result.error.issues.map((issue) => {
        const key = issue.path.map(String).join('.');
        const source = ENV_OVERRIDES.find((o) => o.path.join('.') === key);
        return `${source ? `environment ${source.name}` : (file ?? 'defaults')}: ${key}: ${issue.message}`;
      }),
    );
  }
  const base = file ? path.dirname(file) : cwd;
  const resolve = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : path.resolve(base, p);
  // Key and witness files are resolved like the policy file, so that a config means the same from any directory.
  const audit = result.data.audit;
  const config: Config = {
    ...result.data,
    audit: {
      ...audit,
      hmacKeyFile: resolve(audit.hmacKeyFile),
      signingKeyFile: resolve(audit.signingKeyFile),
      witness: { ...audit.witness, files: audit.witness.files.map((f) => path.resolve(base, f)) },
    },
    gateway: resolveGatewayFiles(result.data.gateway, resolve),
    alerts: resolveAlertFiles(result.data.alerts, (p) => path.resolve(base, p)),
  };
  return {
    config,
    file,
    policyFile: config.policy.file ? path.resolve(base, config.policy.file) : undefined,
  };
}

function resolveGatewayFiles(
  gateway: Config['gateway'],
  resolve: (p: string | undefined) => string | undefined,
): Config['gateway'] {
  const resources = Object.fromEntries(
    Object.entries(gateway.resources).map(([name, r]) => [
      name,
      { ...r, adminUrlFile: resolve(r.adminUrlFile), tls: { ...r.tls, caFile: resolve(r.tls.caFile) } },
    ]),
  );
  return {
    ...gateway,
    tls: { certFile: resolve(gateway.tls.certFile), keyFile: resolve(gateway.tls.keyFile) },
    resources,
  };
}

/** The configuration with secrets replaced, safe to print (e.g. `phigate serve --print-config`). */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  if (copy.audit.hmacKey !== undefined) copy.audit.hmacKey = '***';
  if (copy.audit.signingKey !== undefined) copy.audit.signingKey = '***';
  if (copy.database.url) copy.database.url = redactUrl(copy.database.url);
  for (const upstream of Object.values(copy.gateway.resources)) {
    if (upstream.adminUrl !== undefined) upstream.adminUrl = redactUrl(upstream.adminUrl);
  }
  // A webhook URL may carry a token in its path or query; only its origin is shown.
  for (const channel of Object.values(copy.alerts.channels)) {
    if (channel.type === 'webhook' && typeof channel.url === 'string') channel.url = originOnly(channel.url);
  }
  return copy;
}

function originOnly(text: string): string {
  try {
    return `${new URL(text).origin}/***`;
  } catch {
    return '***';
  }
}

function redactUrl(text: string): string {
  try {
    const u = new URL(text);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '***';
  }
}
