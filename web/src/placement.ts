/**
 * The placement flow: select a pixel, pick a colour, confirm. Shows the chosen colour on the selected
 * pixel at once (without touching the canvas bytes, which only ever hold what the stream says), then
 * the edge's `success` or a clear error, and counts the cooldown down to the next placement.
 */
import type { ErrorMessage, SuccessMessage } from '../../proto/messages.ts';

export type PlaceOutcome = SuccessMessage | ErrorMessage;

export interface PlacementView {
  /** Renders button label/disabled state and the feedback line; called on every state change and each second of cooldown. */
  render(state: PlacementState): void;
}

export interface PlacementState {
  readonly selected: { x: number; y: number } | null;
  readonly color: number | null;
  readonly pending: boolean;
  /** Milliseconds until the next placement is allowed (0 = now). */
  readonly cooldownMs: number;
  readonly connected: boolean;
  readonly feedback: { kind: 'ok' | 'error' | 'wait' | 'none'; text: string };
}

const ERROR_TEXT: Record<string, string> = {
  invalid_coordinates: 'That pixel is outside the canvas.',
  invalid_color: 'That colour is not in the palette.',
  unavailable: 'The server could not take your pixel right now. Your cooldown was not used; try again.',
  rate_limited: 'Too many requests. Slow down a little.',
  unauthorized: 'Sign in to place pixels.',
  forbidden: 'You are not allowed to place pixels.',
  banned: 'This account may not place pixels.',
  bad_request: 'The server did not understand the request.',
};

/** `m:ss` for a duration in ms, rounding up so the countdown reaches 0:00 exactly when placing is allowed. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
    : `${m}:${String(s).padStart(2, '0')}`;
}

export class Placement {
  private selected: { x: number; y: number } | null = null;
  private color: number | null = null;
  private pending = false;
  private cooldownUntil = 0;
  private connected = false;
  private feedback: PlacementState['feedback'] = { kind: 'none', text: '' };
  private ticker: ReturnType<typeof setInterval> | undefined;
  private readonly view: PlacementView;
  private readonly send: (x: number, y: number, color: number) => Promise<PlaceOutcome>;
  private readonly now: () => number;

  constructor(
    view: PlacementView,
    send: (x: number, y: number, color: number) => Promise<PlaceOutcome>,
    now: () => number = Date.now,
  ) {
    this.view = view;
    this.send = send;
    this.now = now;
  }

  get state(): PlacementState {
    return {
      selected: this.selected,
      color: this.color,
      pending: this.pending,
      cooldownMs: Math.max(0, this.cooldownUntil - this.now()),
      connected: this.connected,
      feedback: this.feedback,
    };
  }

  select(pixel: { x: number; y: number } | null): void {
    if (this.pending) return;
    this.selected = pixel;
    if (this.feedback.kind !== 'wait') this.feedback = { kind: 'none', text: '' };
    this.render();
  }

  pick(color: number): void {
    if (this.pending) return;
    this.color = color;
    this.render();
  }

  setConnected(connected: boolean): void {
    this.connected = connected;
    this.render();
  }

  /** From `welcome.cooldownRemaining` (seconds): correct after a reload, since the edge remembers. */
  setCooldownSeconds(seconds: number): void {
    this.startCooldown(seconds * 1000);
  }

  canPlace(): boolean {
    const s = this.state;
    return s.selected !== null && s.color !== null && !s.pending && s.cooldownMs === 0 && s.connected;
  }

  async place(): Promise<void> {
    if (!this.canPlace() || !this.selected || this.color === null) return;
    const { x, y } = this.selected;
    this.pending = true;
    this.feedback = { kind: 'wait', text: `Placing at (${x}, ${y})…` };
    this.render();
    const result = await this.send(x, y, this.color);
    this.pending = false;
    if (result.type === 'success') {
      // nextPlacement is the edge's clock; on a skewed client trust the duration, never more than it implies.
      this.startCooldown(Math.max(0, result.nextPlacement - this.now()));
      this.feedback = { kind: 'ok', text: `Placed at (${x}, ${y}).` };
    } else if (result.code === 'cooldown') {
      const remaining = (result.remainingSeconds ?? 0) * 1000;
      this.startCooldown(remaining);
      this.feedback = { kind: 'error', text: `Not yet: wait ${formatCountdown(remaining)} before your next pixel.` };
    } else {
      this.feedback = { kind: 'error', text: ERROR_TEXT[result.code] ?? result.message ?? 'Placement failed.' };
    }
    this.render();
  }

  private startCooldown(ms: number): void {
    this.cooldownUntil = ms > 0 ? this.now() + ms : 0;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (ms > 0) {
      this.ticker = setInterval(() => {
        if (this.now() >= this.cooldownUntil) {
          clearInterval(this.ticker);
          this.ticker = undefined;
          this.cooldownUntil = 0;
          if (this.feedback.kind !== 'wait') this.feedback = { kind: 'ok', text: 'You can place a pixel.' };
        }
        this.render();
      }, 250);
    }
    this.render();
  }

  private render(): void {
    this.view.render(this.state);
  }
}
