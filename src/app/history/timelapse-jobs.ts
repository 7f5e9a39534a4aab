/**
 * In-memory progress of timelapse jobs for `GET /api/v1/history/timelapse/progress?job=ID`. Bounded: at most
 * `maxConcurrent` running, finished jobs kept 10 minutes and at most 1,000 remembered.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../ports/clock.ts';

export interface JobState {
  readonly id: string;
  readonly state: 'running' | 'done' | 'failed' | 'cancelled';
  readonly framesDone: number;
  readonly framesTotal: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly error: string | null;
}

const KEEP_MS = 10 * 60_000;
const MAX_JOBS = 1_000;

export class TimelapseJobs {
  private readonly jobs = new Map<string, JobState & { finishedMs: number }>();
  private readonly clock: Clock;
  private readonly maxConcurrent: number;

  constructor(clock: Clock, maxConcurrent: number) {
    this.clock = clock;
    this.maxConcurrent = maxConcurrent;
  }

  start(requestedId: string | undefined, framesTotal: number): JobState | null {
    this.prune();
    let running = 0;
    for (const job of this.jobs.values()) if (job.state === 'running') running++;
    if (running >= this.maxConcurrent) return null;
    const existing = requestedId ? this.jobs.get(requestedId) : undefined;
    const id = existing?.state === 'running' || !requestedId ? randomUUID() : requestedId;
    const job = {
      id,
      state: 'running' as const,
      framesDone: 0,
      framesTotal,
      startedAt: new Date(this.clock.now()).toISOString(),
      finishedAt: null,
      error: null,
      finishedMs: 0,
    };
    this.jobs.set(id, job);
    return job;
  }

  progress(id: string, framesDone: number): void {
    const job = this.jobs.get(id);
    if (job) this.jobs.set(id, { ...job, framesDone });
  }

  finish(id: string, state: 'done' | 'failed' | 'cancelled', error: string | null = null): void {
    const job = this.jobs.get(id);
    if (job?.state !== 'running') return;
    const now = this.clock.now();
    this.jobs.set(id, { ...job, state, error, finishedAt: new Date(now).toISOString(), finishedMs: now });
  }

  get(id: string): JobState | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    const { finishedMs: _finishedMs, ...state } = job;
    return state;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [id, job] of this.jobs) {
      if (job.state !== 'running' && (now - job.finishedMs > KEEP_MS || this.jobs.size > MAX_JOBS))
        this.jobs.delete(id);
    }
  }
}
