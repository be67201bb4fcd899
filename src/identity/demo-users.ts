/**
 * The development issuer's demo users. Every name here is synthetic (invented for the demo); none is a real person.
 * Approvers and the on-call physician sign in with a second factor (`amr: ['pwd', 'otp']`) because the demo policy
 * requires MFA of approvers and for break-glass; everyone else uses a password only.
 */
export interface DemoUser {
  readonly username: string;
  readonly name: string;
  readonly groups: readonly string[];
  /** What the demo shows this user doing. */
  readonly role: string;
  readonly mfa: boolean;
}

export const DEMO_USERS: readonly DemoUser[] = Object.freeze(
  [
    {
      username: 'alice',
      name: 'Alice Support',
      groups: ['support'],
      role: 'support engineer (requester)',
      mfa: false,
    },
    {
      username: 'dan',
      name: 'Dan Analyst',
      groups: ['analysts'],
      role: 'data analyst (requester)',
      mfa: false,
    },
    {
      username: 'olivia',
      name: 'Dr. Olivia Oncall',
      groups: ['physicians', 'oncall'],
      role: 'on-call physician (break-glass)',
      mfa: true,
    },
    {
      username: 'carol',
      name: 'Dr. Carol Lead',
      groups: ['clinical-leads'],
      role: 'clinical lead (approver)',
      mfa: true,
    },
    {
      username: 'chris',
      name: 'Dr. Chris Lead',
      groups: ['clinical-leads'],
      role: 'clinical lead (approver)',
      mfa: true,
    },
    {
      username: 'priya',
      name: 'Priya Privacy',
      groups: ['privacy-office'],
      role: 'privacy officer (auditor)',
      mfa: false,
    },
    {
      username: 'adam',
      name: 'Adam Admin',
      groups: ['phigate-admins'],
      role: 'phigate administrator',
      mfa: false,
    },
  ].map((u) => Object.freeze({ ...u, groups: Object.freeze(u.groups) })),
);

export function findDemoUser(username: string): DemoUser | undefined {
  return DEMO_USERS.find((u) => u.username === username);
}

/** `.example` is reserved (RFC 2606): demo addresses can never reach anyone. */
export function demoEmail(user: DemoUser): string {
  return `${user.username}@clinic.example`;
}
