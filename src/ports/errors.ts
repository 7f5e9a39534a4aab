/**
 * Real failures, as named errors that keep their `cause`: part of the ports' contracts (src/ports/*.ts say which
 * call rejects with which). Adapters translate library errors into them at the boundary; use cases catch them.
 * Expected outcomes are returned values instead.
 */

/** The event log could not confirm an append (NATS down, slow, or refusing); nothing is known to be stored. */
export class LogUnavailable extends Error {
  override readonly name = 'LogUnavailable';
}

/** A projection's stored position is not what its writer expected: the store was wiped or written by another writer. */
export class SequenceConflict extends Error {
  override readonly name = 'SequenceConflict';
  readonly expected: number;
  readonly found: number | null;
  constructor(message: string, expected: number, found: number | null) {
    super(message);
    this.expected = expected;
    this.found = found;
  }
}

/** A required service could not be reached at start-up. */
export class ServiceUnreachable extends Error {
  override readonly name = 'ServiceUnreachable';
}

/** A state store (the Redis cooldowns) could not answer; nothing was changed by the failed call. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
}

/**
 * A store refused the data itself (Postgres SQLSTATE class 22 "data exception" or 23 "integrity constraint",
 * a value the driver cannot encode): a permanent failure, retrying the same write can never succeed.
 */
export class StoreRejected extends Error {
  override readonly name = 'StoreRejected';
}

/**
 * A projection stopped on a permanent failure instead of retrying it forever. A `ProjectionSource` ends
 * `run` with it rather than redelivering; the role reports it in `/healthz`, `/readyz` and `rplace status`
 * (`rplace_projection_halted`), and an operator must act (the log names the sequence).
 */
export class ProjectionHalted extends Error {
  override readonly name = 'ProjectionHalted';
  readonly seq: number;
  constructor(message: string, seq: number, options?: ErrorOptions) {
    super(message, options);
    this.seq = seq;
  }
}

/** A setting is invalid or contradicts another; the message names the variables (exit code: usage). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
