/**
 * What `phigate policy check` warns about in a policy that compiles: choices that are allowed but weaken what phigate
 * can prove. Today, one: a role reading a PHI table through columns that include no patient key. The gateway then
 * cannot tell from a statement's rows whose they were, and every such statement goes to the "could not be attributed"
 * section of every patient's accounting the grant could reach (docs/minimum-necessary.md).
 */
import { patientColumnsOf } from './phi.js';
import type { CompiledPolicy } from './types.js';

export interface PolicyWarning {
  readonly code: 'phi.no-patient-key';
  readonly role: string;
  readonly table: string;
  readonly message: string;
}

export function policyWarnings(policy: CompiledPolicy): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  for (const role of policy.roles.values()) {
    const phi = policy.resources.get(role.resource)?.phi;
    if (phi === undefined) continue;
    for (const access of role.access) {
      if (!access.phi || patientColumnsOf(access, phi).length > 0) continue;
      warnings.push({
        code: 'phi.no-patient-key',
        role: role.name,
        table: access.table,
        message:
          `role ${role.name} reads PHI table ${access.table} without a patient key among its clear columns: ` +
          'its statements cannot be attributed to patients and are listed as unattributed in every reachable ' +
          'patient’s accounting of disclosures (add the key or the foreign-key column to the role’s columns)',
      });
    }
  }
  return warnings;
}
