/** Who acted, as the audit log names a signed-in person: one mapping for every producer of events. */
import type { Principal } from '../identity/principal.js';
import type { AuditWho } from './event.js';

export function whoOf(p: Principal): AuditWho {
  return { actor: p.id, issuer: p.issuer, subject: p.subject, name: p.displayName, groups: p.groups };
}
