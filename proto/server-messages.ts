/**
 * Schemas of the server → client JSON control messages (proto/PROTOCOL.md, "Server → client JSON messages"),
 * which every client validates before trusting one (src/client/server-messages.ts). Each `satisfies` its
 * interface in ./messages.ts, so the schema and the type the edge sends cannot drift apart.
 *
 * Written with `zod/mini`, not the `zod` of ./messages.ts: the browser bundle imports this file. Measured on
 * `npm run build:web` (zod 4.6.7): 57.6 KB (20.7 KB gzip) without validation, 150 KB (47 KB gzip) with full zod,
 * 84.5 KB (29.1 KB gzip) with mini, whose functions tree-shake. (The edge's own client-message schemas stay on
 * full zod: their English issue texts are what `bad_request` answers carry; mini's issues say "Invalid input"
 * and the path, which is what the client's error reports.)
 *
 * `z.object` (not strict): within a version an edge may add fields, which the client drops. Every string and
 * array is bounded, so a broken or hostile server cannot make the client hold unbounded data.
 */
import * as z from 'zod/mini';
import { ErrorCode } from './error-codes.ts';
import type {
  CanvasInfo,
  ErrorMessage,
  PongMessage,
  ResizedMessage,
  ServerControlMessage,
  SuccessMessage,
  WelcomeMessage,
} from './messages.ts';

/** Longest `message` text the client accepts in an `error`. */
export const MAX_SERVER_TEXT = 2_048;
const seq = z.int().check(z.minimum(0), z.maximum(Number.MAX_SAFE_INTEGER));
const side = z.int().check(z.minimum(1), z.maximum(65_535));
const answerId = z.string().check(z.minLength(1), z.maxLength(64));
const nonNegative = z.number().check(z.minimum(0));

export const CanvasInfoSchema = z.object({
  width: side,
  height: side,
  colorCount: z.int().check(z.minimum(1), z.maximum(256)),
  cooldownSeconds: nonNegative,
  palette: z
    .array(z.string().check(z.regex(/^#[0-9A-Fa-f]{6}$/, 'palette: #RRGGBB')))
    .check(z.minLength(1), z.maxLength(256)),
  paletteNames: z.array(z.string().check(z.maxLength(64))).check(z.maxLength(256)),
  seq,
}) satisfies z.ZodMiniType<CanvasInfo>;

export const WelcomeMessageSchema = z.object({
  type: z.literal('welcome'),
  protocol: z.int(),
  userId: z.string().check(z.minLength(1), z.maxLength(256)),
  isGuest: z.boolean(),
  cooldownRemaining: nonNegative,
  canvasInfo: CanvasInfoSchema,
}) satisfies z.ZodMiniType<WelcomeMessage>;

export const SuccessMessageSchema = z.object({
  type: z.literal('success'),
  requestId: answerId,
  nextPlacement: z.number(),
  seq,
}) satisfies z.ZodMiniType<SuccessMessage>;

export const ErrorMessageSchema = z.object({
  type: z.literal('error'),
  code: z.enum(ErrorCode),
  message: z.string().check(z.maxLength(MAX_SERVER_TEXT)),
  requestId: z.optional(answerId),
  remainingSeconds: z.optional(nonNegative),
}) satisfies z.ZodMiniType<ErrorMessage>;

export const PongMessageSchema = z.object({ type: z.literal('pong') }) satisfies z.ZodMiniType<PongMessage>;

const coordinate = z.int().check(z.minimum(0), z.maximum(65_535));
export const ResizedMessageSchema = z.object({
  type: z.literal('resized'),
  seq,
  width: side,
  height: side,
  originX: coordinate,
  originY: coordinate,
}) satisfies z.ZodMiniType<ResizedMessage>;

/** Every JSON message an edge of this version sends. Types outside it are ignored by clients (PROTOCOL.md). */
export const ServerControlMessageSchema = z.discriminatedUnion('type', [
  WelcomeMessageSchema,
  SuccessMessageSchema,
  ErrorMessageSchema,
  PongMessageSchema,
  ResizedMessageSchema,
]);

/** The `type` of each message above. */
export const SERVER_MESSAGE_TYPES: readonly string[] = [
  'welcome',
  'success',
  'error',
  'pong',
  'resized',
] satisfies readonly ServerControlMessage['type'][];

/** A readable account of a failed parse (`✖ <issue> → at <path>` per issue). */
export const describeIssues = (error: z.core.$ZodError): string => z.prettifyError(error);
