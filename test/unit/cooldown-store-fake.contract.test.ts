/** The cooldown contract (test/contract/cooldown-store.contract.ts) on the in-memory fake, on a manual clock. */
import { cooldownStoreContract } from '../contract/cooldown-store.contract.ts';
import { createManualClock } from '../kit/fakes/clock.ts';
import { createFakeCooldownStore } from '../kit/fakes/cooldown-store.ts';

cooldownStoreContract('in-memory fake', async () => {
  const clock = createManualClock();
  return {
    store: createFakeCooldownStore(clock),
    pass: async (ms) => clock.advance(ms),
    settle: async () => undefined,
    close: async () => undefined,
  };
});
