/** Time is passed in, never read by domain code, so expiry and business hours are testable without waiting. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = Object.freeze({ now: () => new Date() });
