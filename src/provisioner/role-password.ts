/**
 * The password of a grant's database role, derived rather than stored: every replica can log in as the role, and
 * nothing at rest holds the password. The grant id is public; without the key the password is unguessable.
 */
import { createHmac } from 'node:crypto';

export function grantRolePassword(secret: Buffer, grantId: string): string {
  return createHmac('sha256', secret)
    .update('phigate/grant-role-password/v1\u0000')
    .update(grantId)
    .digest()
    .toString('base64url');
}
