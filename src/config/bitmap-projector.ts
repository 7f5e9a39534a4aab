/** The bitmap projector role: the common settings plus its batching and wipe-check knobs. */
import { z } from 'zod';
import { commonShape } from './common.ts';

export const bitmapProjectorSchema = z.object({
  ...commonShape,
  /** Largest batch applied in one Redis script (events); batches are otherwise as large as the backlog. */
  BITMAP_MAX_BATCH: z.coerce.number().int().min(1).max(50_000).default(5000),
  /** How often an idle projector checks that Redis still holds its bitmap (ms). */
  BITMAP_WIPE_CHECK_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
});

export type BitmapProjectorConfig = z.output<typeof bitmapProjectorSchema>;
