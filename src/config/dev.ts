/**
 * `npm start` (the all-in-one dev entry). Its own variables; each composed role still parses the same
 * environment with its own schema, so every role variable documented in README.md applies here too.
 */
import { z } from 'zod';
import { commonShape } from './common.ts';

export const devSchema = z.object({
  ...commonShape,
  PORT: z.coerce.number().int().min(1).max(65_535).default(3000),
  /** Where local services, their logs and the generated session secret live (relative to the repo root). */
  DATA_DIR: z.string().min(1).default('.data'),
  /** `0` never starts local services: a service that is down is an error. */
  START_SERVICES: z.enum(['0', '1']).default('1'),
});

export type DevConfig = z.output<typeof devSchema>;
