/** The auth port contracts (test/contract/) on the in-memory fakes, on a manual clock. */
import { banStoreContract } from '../contract/ban-store.contract.ts';
import { challengeStoreContract } from '../contract/challenge-store.contract.ts';
import { rateLimiterContract } from '../contract/rate-limiter.contract.ts';
import { sessionStoreContract } from '../contract/session-store.contract.ts';
import { userStoreContract } from '../contract/user-store.contract.ts';
import { createFakeBanStore } from '../kit/fakes/ban-store.ts';
import { createFakeChallengeStore } from '../kit/fakes/challenge-store.ts';
import { createManualClock } from '../kit/fakes/clock.ts';
import { createFakeRateLimiter } from '../kit/fakes/rate-limiter.ts';
import { createFakeSessionStore } from '../kit/fakes/session-store.ts';
import { createFakeUserStore } from '../kit/fakes/user-store.ts';

const clocked =
  <T>(make: (clock: ReturnType<typeof createManualClock>) => T) =>
  async () => {
    const clock = createManualClock();
    return { ...make(clock), pass: async (ms: number) => clock.advance(ms) };
  };

sessionStoreContract(
  'in-memory fake',
  clocked((clock) => ({ store: createFakeSessionStore(clock) })),
);
rateLimiterContract(
  'in-memory fake',
  clocked((clock) => ({ limiter: createFakeRateLimiter(clock) })),
);
challengeStoreContract(
  'in-memory fake',
  clocked((clock) => ({ store: createFakeChallengeStore(clock) })),
);
userStoreContract('in-memory fake', async () => createFakeUserStore());
banStoreContract('in-memory fake', async () => createFakeBanStore());
