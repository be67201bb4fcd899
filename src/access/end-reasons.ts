/**
 * Why the system (not a person) ended a grant: stored as the grant's end reason, carried in its `grant.revoke` audit
 * event, shown by `phigate show`. One list, so that reports and alerts can rely on the names.
 */
export const SYSTEM_END_REASONS = {
  /** A patient the grant's care relation vouched for left the relation (care-relation-watch.ts). */
  'care-relation-ended': 'a patient of the grant left the requester’s care relation',
  /** The grantee is no longer in the role's eligible groups (checked when a connection is asked for or opened). */
  'eligibility-lost': 'the grantee is no longer eligible for the grant’s role',
} as const;

export type SystemEndReason = keyof typeof SYSTEM_END_REASONS;
