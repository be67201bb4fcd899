/**
 * Compiles a policy's YAML once into a frozen index: schema first (with line numbers), then the cross-references
 * a schema cannot see (a role naming a missing resource, an emergency role with a non-emergency purpose, …).
 */
import { createHash } from 'node:crypto';
import { PhigateError } from '../lib/errors.js';
import { lineOf, parseYamlWith } from '../lib/yaml-source.js';
import { approvalProgress, canApprove } from './approvals.js';
import { businessHoursCheck, minuteOfDay, type BusinessHoursCheck } from './business-hours.js';
import { decide } from './decide.js';
import { compilePhi, resolveMasks, TABLE_NAME } from './phi.js';
import { parseDuration } from '../lib/duration.js';
import { FrozenMap } from './frozen-map.js';
import type { AutoApproveCondition, IndexedRole, PolicyIndex } from './policy-index.js';
import { EMERGENCY_PURPOSES, isPurposeOfUse } from './purpose-of-use.js';
import { policySchema, type ApprovalRuleFile, type PolicyFile } from './schema.js';
import type {
  ApprovalRequirement,
  CareRelation,
  CompileResult,
  CompiledPolicy,
  PolicyProblem,
  PrincipalFacts,
  ResourceDefinition,
  RoleDefinition,
  TableAccess,
} from './types.js';
import type { Mask } from './safe-harbor.js';

type Report = (path: readonly (string | number)[], message: string) => void;

function durationAt(text: string, path: readonly (string | number)[], report: Report): number {
  try {
    return parseDuration(text);
  } catch (err) {
    report(path, err instanceof PhigateError ? err.message : 'invalid duration');
    return NaN;
  }
}

function compileRequirement(name: string, rule: ApprovalRuleFile): ApprovalRequirement {
  return Object.freeze({
    rule: name,
    count: rule.approvers.count,
    groups: Object.freeze([...rule.approvers.groups]),
    fromEachGroup: rule.approvers.fromEachGroup,
    requireMfa: rule.approvers.requireMfa,
    requirePerson: rule.approvers.requirePerson,
  });
}

function compileAutoApprove(name: string, rule: ApprovalRuleFile, report: Report): AutoApproveCondition[] {
  return rule.autoApprove.map((c, i) => {
    const at = ['approvalRules', name, 'autoApprove', i];
    // An empty condition would approve every request of every role using the rule: say so explicitly or not at all.
    if (!c.groups && c.maxDuration === undefined && !c.businessHoursOnly && !c.purposes) {
      report(
        at,
        'an auto-approval condition needs at least one criterion (groups, maxDuration, businessHoursOnly, purposes)',
      );
    }
    for (const [j, p] of (c.purposes ?? []).entries()) {
      if (!isPurposeOfUse(p)) report([...at, 'purposes', j], `unknown purpose of use ${p}`);
    }
    return Object.freeze({
      groups: c.groups ? new Set(c.groups) : undefined,
      maxDurationMs:
        c.maxDuration === undefined ? undefined : durationAt(c.maxDuration, [...at, 'maxDuration'], report),
      businessHoursOnly: c.businessHoursOnly,
      purposes: c.purposes ? new Set(c.purposes) : undefined,
    });
  });
}

function compileAccess(
  roleName: string,
  role: PolicyFile['roles'][string],
  resource: ResourceDefinition | undefined,
  report: Report,
): TableAccess[] {
  const viewNames = new Map<string, string>();
  return Object.entries(role.access).map(([table, t]) => {
    const at = ['roles', roleName, 'access', table];
    if (!TABLE_NAME.test(table)) report(at, `table ${JSON.stringify(table)} must be written schema.table`);
    if (new Set(t.columns).size !== t.columns.length) report([...at, 'columns'], 'a column is listed twice');
    // A grant sees each table through a view of the same name in one schema of phigate's.
    const bare = table.slice(table.indexOf('.') + 1);
    const clash = viewNames.get(bare);
    if (clash !== undefined)
      report(at, `${table} and ${clash} have the same name; a role may reach only one`);
    viewNames.set(bare, table);
    const phi = resource?.phi.get(table);
    const masks = resolveMasks(t.columns, t.masks, phi, (column, message) =>
      report([...at, 'masks', column], message),
    );
    if (role.patientScope !== 'none' && phi !== undefined && phi.patientPath === undefined) {
      report(
        at,
        `${table} holds PHI but has no patientKey in resource ${role.resource}, so a patient-scoped grant could not confine it`,
      );
    }
    return Object.freeze({
      table,
      columns: Object.freeze(t.columns.filter((c) => masks[c] !== 'hide')),
      masks: Object.freeze(
        Object.fromEntries(
          Object.entries(masks).filter((e): e is [string, Exclude<Mask, 'hide'>] => e[1] !== 'hide'),
        ),
      ),
      operations: Object.freeze([...new Set(t.operations)]),
      phi: phi !== undefined,
      patientPath: phi?.patientPath,
    });
  });
}

const IDENTIFIER = /^[a-z_][a-z0-9_$]*$/i;

function compileCareRelation(
  roleName: string,
  role: PolicyFile['roles'][string],
  resource: ResourceDefinition | undefined,
  report: Report,
): CareRelation | undefined {
  const c = role.careRelation;
  if (c === undefined) return undefined;
  const at = ['roles', roleName, 'careRelation'];
  if (role.patientScope === 'none')
    report([...at], 'a care relation gives the grant its patients: set patientScope to required or optional');
  if (role.emergency)
    report(
      [...at],
      'break-glass is for patients outside one’s care relations: an emergency role cannot have one',
    );
  for (const key of ['requesterColumn', 'validFrom', 'validUntil'] as const) {
    const column = c[key];
    if (column !== undefined && !IDENTIFIER.test(column))
      report([...at, key], `${JSON.stringify(column)} is not a column name`);
  }
  const path = resource?.phi.get(c.table)?.patientPath;
  if (resource !== undefined && path === undefined) {
    report(
      [...at, 'table'],
      `${c.table} must be a PHI table of resource ${resource.name} with a patientKey, to lead to patients`,
    );
  }
  if (path === undefined) return undefined;
  return Object.freeze({
    table: c.table,
    requesterColumn: c.requesterColumn,
    requesterIdentifier: c.requesterIdentifier,
    issuer: c.issuer,
    validFrom: c.validFrom,
    validUntil: c.validUntil,
    patientPath: path,
  });
}

function buildIndex(file: PolicyFile, report: Report): PolicyIndex {
  const s = file.settings;
  let isBusinessHours: BusinessHoursCheck = () => false;
  const startMinute = minuteOfDay(s.businessHours.start);
  const endMinute = minuteOfDay(s.businessHours.end);
  if (startMinute >= endMinute)
    report(['settings', 'businessHours', 'end'], 'business hours must end after they start');
  try {
    isBusinessHours = businessHoursCheck(s.timezone, { days: s.businessHours.days, startMinute, endMinute });
  } catch {
    report(['settings', 'timezone'], `unknown IANA time zone ${JSON.stringify(s.timezone)}`);
  }
  if (s.justification.minLength > s.justification.maxLength) {
    report(['settings', 'justification', 'minLength'], 'minLength is greater than maxLength');
  }
  const breakGlassMaxMs = durationAt(s.breakGlassMaxDuration, ['settings', 'breakGlassMaxDuration'], report);
  durationAt(s.pendingTimeout, ['settings', 'pendingTimeout'], report);

  const resources = new Map<string, ResourceDefinition>();
  for (const [name, r] of Object.entries(file.resources)) {
    resources.set(
      name,
      Object.freeze({
        name,
        kind: r.kind,
        description: r.description,
        connection: Object.freeze({ ...r.connection }),
        labels: Object.freeze({
          confidentiality: r.labels.confidentiality,
          sensitivity: Object.freeze([...r.labels.sensitivity]),
        }),
        phi: new FrozenMap(compilePhi(name, r.phi, report)),
      }),
    );
  }

  const requirements = new Map<string, ApprovalRequirement>();
  const autoConditions = new Map<string, AutoApproveCondition[]>();
  for (const [name, rule] of Object.entries(file.approvalRules)) {
    // Approvals are counted per listed group; a group listed twice would be counted twice.
    const groups = rule.approvers.groups;
    if (new Set(groups).size !== groups.length) {
      report(['approvalRules', name, 'approvers', 'groups'], 'an approver group is listed twice');
    }
    requirements.set(name, compileRequirement(name, rule));
    autoConditions.set(name, compileAutoApprove(name, rule, report));
  }

  const roles = new Map<string, IndexedRole>();
  const rolesByGroup = new Map<string, RoleDefinition[]>();
  for (const [name, r] of Object.entries(file.roles)) {
    const at = ['roles', name];
    if (!resources.has(r.resource)) report([...at, 'resource'], `unknown resource ${r.resource}`);
    const defaultMs = durationAt(r.duration.default, [...at, 'duration', 'default'], report);
    const maxMs = durationAt(r.duration.max, [...at, 'duration', 'max'], report);
    const cumulativeMs =
      r.duration.cumulativeMax === undefined
        ? maxMs
        : durationAt(r.duration.cumulativeMax, [...at, 'duration', 'cumulativeMax'], report);
    if (defaultMs > maxMs) report([...at, 'duration', 'default'], 'the default duration exceeds the maximum');
    const idleTimeoutMs = durationAt(r.idleTimeout, [...at, 'idleTimeout'], report);
    if (maxMs > cumulativeMs) report([...at, 'duration', 'cumulativeMax'], 'cumulativeMax is below max');
    for (const [i, p] of r.purposes.entries()) {
      if (!isPurposeOfUse(p)) report([...at, 'purposes', i], `unknown purpose of use ${p}`);
      else if (r.emergency && !EMERGENCY_PURPOSES.has(p)) {
        report([...at, 'purposes', i], `an emergency role may only be used for ETREAT or BTG, not ${p}`);
      } else if (!r.emergency && EMERGENCY_PURPOSES.has(p)) {
        report([...at, 'purposes', i], `${p} is reserved for emergency (break-glass) roles`);
      }
    }
    if (r.emergency) {
      if (maxMs > breakGlassMaxMs) {
        report(
          [...at, 'duration', 'max'],
          `an emergency role may last at most breakGlassMaxDuration (${s.breakGlassMaxDuration})`,
        );
      }
      if (r.approval !== undefined)
        report([...at, 'approval'], 'an emergency role activates without approvers');
    } else if (r.approval === undefined) {
      report(at, 'a non-emergency role needs an approval rule (approval: RULE)');
    } else if (!requirements.has(r.approval)) {
      report([...at, 'approval'], `unknown approval rule ${r.approval}`);
    }
    const definition: RoleDefinition = Object.freeze({
      name,
      description: r.description,
      resource: r.resource,
      eligibleGroups: Object.freeze([...r.eligibleGroups]),
      access: Object.freeze(compileAccess(name, r, resources.get(r.resource), report)),
      defaultDurationMs: defaultMs,
      maxDurationMs: maxMs,
      cumulativeMaxMs: cumulativeMs,
      purposes: Object.freeze([...r.purposes]),
      emergency: r.emergency,
      requireMfa: r.requireMfa ?? r.emergency,
      patientScope: r.patientScope,
      careRelation: compileCareRelation(name, r, resources.get(r.resource), report),
      approvalRule: r.approval ?? '',
      idleTimeoutMs,
      maxConnections: r.maxConnections,
    });
    roles.set(
      name,
      Object.freeze({
        definition,
        eligible: new Set(r.eligibleGroups),
        purposes: new Set(r.purposes),
        requirement: r.approval ? requirements.get(r.approval) : undefined,
        autoApprove: r.approval ? (autoConditions.get(r.approval) ?? []) : [],
      }),
    );
    for (const g of new Set(r.eligibleGroups)) {
      const list = rolesByGroup.get(g) ?? [];
      list.push(definition);
      rolesByGroup.set(g, list);
    }
  }

  return Object.freeze({
    resources: new FrozenMap(resources),
    requirements: new FrozenMap(requirements),
    roles,
    rolesByGroup,
    administrators: new Set(file.administrators.groups),
    auditors: new Set(file.auditors.groups),
    isBusinessHours,
    breakGlassMaxMs,
    justification: { ...s.justification },
    maxPatientIds: s.maxPatientIds,
  });
}

function makePolicy(
  index: PolicyIndex,
  file: PolicyFile,
  source: string,
  sourceName: string,
): CompiledPolicy {
  const roleDefinitions = new FrozenMap([...index.roles].map(([name, r]) => [name, r.definition] as const));
  const inGroups = (p: PrincipalFacts, set: ReadonlySet<string>): boolean => p.groups.some((g) => set.has(g));
  const policy: CompiledPolicy = {
    hash: createHash('sha256').update(source).digest('hex'),
    sourceName,
    source,
    resources: index.resources,
    roles: roleDefinitions,
    approvalRules: index.requirements,
    pendingTimeoutMs: parseDuration(file.settings.pendingTimeout),
    maxPatientIds: file.settings.maxPatientIds,
    decide: (input) => decide(index, input),
    requirementFor: (role) => index.roles.get(role)?.requirement,
    rolesFor: (principal) => {
      const seen = new Set<RoleDefinition>();
      for (const g of principal.groups) for (const r of index.rolesByGroup.get(g) ?? []) seen.add(r);
      // Code-unit order, not the locale's: the same policy lists roles the same way on every machine.
      return Object.freeze([...seen].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
    },
    canApprove,
    approvalProgress,
    isAdmin: (p) => inGroups(p, index.administrators),
    isAuditor: (p) => inGroups(p, index.auditors),
  };
  return Object.freeze(policy);
}

export function compilePolicy(source: string, sourceName: string): CompileResult {
  const parsed = parseYamlWith(source, policySchema);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  const problems: PolicyProblem[] = [];
  const report: Report = (path, message) =>
    problems.push({ path: path.join('.'), line: lineOf(parsed.document, parsed.lines, path), message });
  const index = buildIndex(parsed.value, report);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, policy: makePolicy(index, parsed.value, source, sourceName) };
}

export function compilePolicyOrThrow(source: string, sourceName: string): CompiledPolicy {
  const result = compilePolicy(source, sourceName);
  if (result.ok) return result.policy;
  const lines = result.problems.map((p) => `${sourceName}:${p.line ?? '?'}: ${p.path}: ${p.message}`);
  throw new PhigateError('invalid', 'policy.invalid', `invalid policy:\n  ${lines.join('\n  ')}`, {
    problems: result.problems,
  });
}
