/** The bitmap contract (test/contract/bitmap-store.contract.ts) on the in-memory fake. */
import { BITMAP_SPEC, bitmapStoreContract } from '../contract/bitmap-store.contract.ts';
import { createFakeBitmapStore } from '../kit/fakes/bitmap-store.ts';

bitmapStoreContract('in-memory fake', async () => {
  const store = createFakeBitmapStore(BITMAP_SPEC);
  return {
    store,
    wipe: async () => store.wipe(),
    truncate: async () => store.truncate(),
    close: async () => undefined,
  };
});
