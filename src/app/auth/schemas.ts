/** zod schemas for everything the auth routes accept; every size bounded. */
import { z } from 'zod';
import { MAX_PASSWORD_BYTES } from './password.ts';

export const Username = z
  .string()
  .min(3, 'username: at least 3 characters')
  .max(24, 'username: at most 24 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'username: only A-Z a-z 0-9 _ -');

export const Password = z
  .string()
  .min(8, 'password: at least 8 characters')
  .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, `password: at most ${MAX_PASSWORD_BYTES} bytes`);

export const Credentials = z.strictObject({ username: Username, password: Password });
export type Credentials = z.infer<typeof Credentials>;

/** A login: the credentials, plus a solved challenge once the account's login budget is spent (login-challenge.ts). */
export const LoginBody = z.strictObject({
  ...Credentials.shape,
  challenge: z
    .string()
    .regex(/^[A-Za-z0-9_-]{22}$/, 'challenge: as issued')
    .optional(),
  nonce: z.string().min(1).max(32).optional(),
});

/** Largest auth request body accepted (bytes). */
export const MAX_AUTH_BODY_BYTES = 1024;
