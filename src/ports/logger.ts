/**
 * The slice of a logger a use case needs (pino's `Logger` satisfies it), so `src/app` never imports pino.
 * The domain never logs.
 */
export interface ProjectionLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}
