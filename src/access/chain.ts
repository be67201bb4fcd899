/**
 * Back-to-back grants (ATTACKS 20). Extension is a new request, so without a cap a person could chain 2-hour grants
 * forever. A chain is a run of grants of one requester, role and resource with no gap between them (each ends at or
 * after the next one starts) whose latest grant is still running at `now`. Its length is the time it covers, from
 * the first start to the last end (an active grant counts to its `expires_at`), which the policy caps.
 */
export interface ChainGrant {
  readonly activatedAt: Date;
  /** Expiry, or the revocation time for a grant revoked early. */
  readonly endAt: Date;
}

export function chainedMs(grants: readonly ChainGrant[], now: Date): number {
  const sorted = [...grants].sort((a, b) => b.endAt.getTime() - a.endAt.getTime());
  const first = sorted[0];
  if (first === undefined || first.endAt.getTime() < now.getTime()) return 0;
  const chainEnd = first.endAt.getTime();
  let chainStart = first.activatedAt.getTime();
  for (const g of sorted.slice(1)) {
    // Ends only decrease from here: once one ends before the chain starts, none of the rest can touch it.
    if (g.endAt.getTime() < chainStart) break;
    chainStart = Math.min(chainStart, g.activatedAt.getTime());
  }
  return Math.max(0, chainEnd - chainStart);
}
