/** The admission contract (test/contract/admission.contract.ts) on the fakes composed port by port. */
import { admissionContract } from '../contract/admission.contract.ts';
import { createComposedAdmission } from '../kit/fakes/admission.ts';
import { createFakeBanStore } from '../kit/fakes/ban-store.ts';
import { createFakeCooldownStore } from '../kit/fakes/cooldown-store.ts';
import { createFakeRateLimiter } from '../kit/fakes/rate-limiter.ts';
import { createFakeSessionStore } from '../kit/fakes/session-store.ts';

admissionContract('fakes, port by port', async () => {
  const bans = createFakeBanStore();
  const sessions = createFakeSessionStore();
  const cooldowns = createFakeCooldownStore();
  let bansLoaded = true;
  return {
    admission: createComposedAdmission({
      bans,
      sessions,
      limits: createFakeRateLimiter(),
      cooldowns,
      bansLoaded: () => bansLoaded,
    }),
    unloadBans: async () => {
      bansLoaded = false;
    },
    cooldowns,
    sessions,
    ban: (userId, mode) => bans.set(userId, mode),
    close: async () => undefined,
  };
});
