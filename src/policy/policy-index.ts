/** The compiled, lookup-ready form of a policy that `decide()` reads. Built once by the compiler, then frozen. */
import type { BusinessHoursCheck } from './business-hours.js';
import type { ApprovalRequirement, ResourceDefinition, RoleDefinition } from './types.js';

export interface AutoApproveCondition {
  readonly groups: ReadonlySet<string> | undefined;
  readonly maxDurationMs: number | undefined;
  readonly businessHoursOnly: boolean;
  readonly purposes: ReadonlySet<string> | undefined;
}

export interface IndexedRole {
  readonly definition: RoleDefinition;
  readonly eligible: ReadonlySet<string>;
  readonly purposes: ReadonlySet<string>;
  readonly requirement: ApprovalRequirement | undefined;
  readonly autoApprove: readonly AutoApproveCondition[];
}

export interface PolicyIndex {
  readonly resources: ReadonlyMap<string, ResourceDefinition>;
  readonly requirements: ReadonlyMap<string, ApprovalRequirement>;
  readonly roles: ReadonlyMap<string, IndexedRole>;
  /** group → roles its members may request. */
  readonly rolesByGroup: ReadonlyMap<string, readonly RoleDefinition[]>;
  readonly administrators: ReadonlySet<string>;
  readonly auditors: ReadonlySet<string>;
  readonly isBusinessHours: BusinessHoursCheck;
  readonly breakGlassMaxMs: number;
  readonly justification: { readonly minLength: number; readonly maxLength: number };
  readonly maxPatientIds: number;
}
