/**
 * The risk check and the challenge hook, both pluggable.
 *
 * Every placement attempt (accepted or not) takes a token from the user's attempt bucket. When the bucket
 * is empty the user is placing far faster than the cooldown allows a human to, and the `RiskRule` decides
 * whether that calls for a challenge. The built-in rule challenges young accounts only; an operator can
 * pass any rule (IP reputation, ML score …). A `ChallengeGate` (captcha, proof-of-work) says whether the
 * user has passed a challenge recently; the default gate never has one, so a tripped check refuses the
 * placement with `challenge_required` until the bucket refills.
 */
export interface RiskContext {
  readonly userId: string;
  /** ms since the account was created; null for guests. */
  readonly accountAgeMs: number | null;
  /** True when the user's placement attempts exceed the attempt budget. */
  readonly attemptsExceeded: boolean;
  readonly ip: string;
}

export interface RiskRule {
  assess(context: RiskContext): 'allow' | 'challenge';
}

export interface ChallengeGate {
  /** True when the user has passed a challenge recently enough to skip another. */
  isCleared(userId: string): Promise<boolean>;
  /** What the client is told to do (shown in the `challenge_required` error). */
  readonly instructions: string;
}

/** Challenges accounts younger than `minAccountAgeMs` (and guests) that exceed the attempt budget. */
export function accountAgeRiskRule(minAccountAgeMs: number): RiskRule {
  return {
    assess: ({ accountAgeMs, attemptsExceeded }) =>
      attemptsExceeded && (accountAgeMs === null || accountAgeMs < minAccountAgeMs) ? 'challenge' : 'allow',
  };
}

export const noChallengeGate: ChallengeGate = {
  isCleared: async () => false,
  instructions: 'too many placement attempts for a new account; slow down and try again later',
};
