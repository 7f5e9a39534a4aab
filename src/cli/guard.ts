/**
 * What every destructive CLI command (`rebuild history`, `rebuild bitmap`, `mod rollback`, `mod restore`)
 * goes through before it writes:
 *
 * 1. For a rebuild: refuse while the role that owns the projection is running, unless `--force`. "Running"
 *    is whatever answers on the status subject `rplace-ctl.<canvas>.status` (the same request as
 *    `rplace status`): a rebuild that races a live projector makes it reload or fight over the position.
 *    Rollbacks and restores are not refused: they append compensating events through the log, which the
 *    running roles apply like any other (and moderation has to work while the canvas is live).
 * 2. Ask on a terminal, unless `--yes`; without a terminal and without `--yes`, refuse (a UsageError, exit 2).
 */
import { createInterface } from 'node:readline/promises';
import type { NatsConnection } from '@nats-io/nats-core';
import { requestRoleStatus } from '../adapters/nats/status-responder.ts';
import type { StatusRole } from '../domain/role-status.ts';
import { UsageError } from '../exit-codes.ts';
import { DEFAULT_STATUS_WAIT_MS } from './commands/status.ts';

/** A destructive command that found its projection's owner running. */
export class OwnerRunning extends Error {
  override readonly name = 'OwnerRunning';
}

export async function refuseWhileRunning(
  nc: NatsConnection,
  canvasId: string,
  owner: StatusRole,
  what: string,
  force: boolean,
): Promise<void> {
  if (force) return;
  const { answered } = await requestRoleStatus(nc, canvasId, DEFAULT_STATUS_WAIT_MS);
  const running = answered.filter((r) => r.role === owner);
  if (running.length === 0) return;
  const who = running.map((r) => `${r.instance} pid ${r.pid}`).join(', ');
  throw new OwnerRunning(
    `refusing to ${what}: the ${owner} role of canvas ${canvasId} is running (${who}); stop it first, or pass --force`,
  );
}

/** True to go ahead. `yes` skips the question; no terminal and no `yes` refuses. */
export async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY)
    throw new UsageError('refusing to write without confirmation: no terminal to ask on (pass --yes)');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
