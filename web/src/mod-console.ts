/**
 * The moderator console (issue 15), shown only when `GET /api/v1/mod/me` answers 200 (the server re-checks
 * the role on every call anyway): select a rectangle by dragging on the canvas (or type it), a time range
 * and optionally one user; see who placed there; preview the rollback as before/after images; confirm a
 * dialog that names its size; apply. Ban, shadow-ban and unban the last placer of the selected pixel; read
 * the audit log. Each confirmed action gets one idempotency key, so a double click or a retry is one action.
 * Builds its own DOM; main.ts only creates it and forwards camera changes and pixel selections.
 */
import {
  modApi,
  ModApiError,
  newIdempotencyKey,
  type AuditEntry,
  type Region,
  type Selection,
  type SurveyResult,
} from './mod-api.ts';
import { confirmDialog, count, el, num, time } from './mod-dom.ts';
import { normalizeDrag, SINCE_CHOICES } from './mod-select.ts';
import './mod-console.css';

export interface ModConsoleHost {
  readonly viewport: HTMLElement;
  readonly topbar: HTMLElement;
  /** Where the selected pixel's moderation buttons go (below the pixel info). */
  readonly pixelSlot: HTMLElement;
  /** Canvas pixel under a viewport point (clamped to the canvas), or null before the canvas is known. */
  toPixel(sx: number, sy: number): { x: number; y: number } | null;
  /** Viewport point of a canvas coordinate, and the current screen pixels per canvas pixel. */
  toScreen(x: number, y: number): { x: number; y: number };
  zoom(): number;
}

export class ModConsole {
  private readonly host: ModConsoleHost;
  private readonly toggle = el('button', {
    type: 'button',
    className: 'tool',
    id: 'mod-toggle',
    textContent: 'Moderate',
    hidden: true,
  });
  private readonly panel = el('section', {
    className: 'mod-console',
    id: 'mod-console',
    hidden: true,
    ariaLabel: 'Moderator console',
  });
  private readonly rect = el('div', { className: 'mod-rect', id: 'mod-rect', hidden: true });
  private readonly drag = el('div', { className: 'mod-drag', id: 'mod-drag', hidden: true });
  private readonly dialog = el('dialog', { id: 'mod-confirm', className: 'mod-confirm' });
  private readonly message = el('div', { id: 'mod-message', className: 'mod-message', role: 'status' });
  private readonly users = el('ul', { id: 'mod-users', className: 'mod-users' });
  private readonly previewBox = el('div', { id: 'mod-preview-box', className: 'mod-preview', hidden: true });
  private readonly auditList = el('ol', { id: 'mod-audit-list', className: 'mod-audit' });
  private readonly pixelBox = el('div', { id: 'mod-pixel', className: 'mod-pixel', hidden: true });
  private region: Region | null = null;
  private pixelAbort: AbortController | undefined;

  constructor(host: ModConsoleHost) {
    this.host = host;
  }

  /** Asks the server whether this session is a moderator; builds the console only then. */
  async init(): Promise<boolean> {
    if (!(await modApi.isModerator())) return false;
    this.build();
    return true;
  }

  /** The camera moved: keep the selection rectangle on its pixels. */
  layout(): void {
    if (!this.region || this.panel.hidden) {
      this.rect.hidden = true;
      return;
    }
    const a = this.host.toScreen(this.region.x, this.region.y);
    const z = this.host.zoom();
    Object.assign(this.rect.style, {
      left: `${a.x}px`,
      top: `${a.y}px`,
      width: `${Math.max(2, this.region.width * z)}px`,
      height: `${Math.max(2, this.region.height * z)}px`,
    });
    this.rect.hidden = false;
  }

  /** A pixel was selected: offer ban / shadow-ban / unban of whoever placed it last. */
  pixelSelected(pixel: { x: number; y: number } | null): void {
    this.pixelAbort?.abort();
    this.pixelBox.replaceChildren();
    this.pixelBox.hidden = true;
    if (!pixel || this.toggle.hidden) return;
    const abort = new AbortController();
    this.pixelAbort = abort;
    fetch(`/api/v1/history/pixel?x=${pixel.x}&y=${pixel.y}&limit=1`, { credentials: 'include', signal: abort.signal })
      .then(async (res) => {
        const body = (await res.json()) as {
          placements?: { userId: string; username?: string | null; kind?: string }[];
        };
        const last = body.placements?.find((p) => p.kind !== 'restored');
        if (abort.signal.aborted || !last) return;
        const who = last.username ?? last.userId;
        this.pixelBox.append(`Moderate ${who}:`, ...this.banButtons(last.userId, who));
        this.pixelBox.hidden = false;
      })
      .catch(() => undefined);
  }

  private build(): void {
    const h = this.host;
    this.toggle.hidden = false;
    this.toggle.setAttribute('aria-controls', 'mod-console');
    h.topbar.append(this.toggle);
    h.viewport.append(this.drag, this.rect);
    h.pixelSlot.append(this.pixelBox);
    const since = el(
      'select',
      { id: 'mod-since' },
      ...SINCE_CHOICES.map((c) => el('option', { value: String(c.ms), textContent: c.label })),
    );
    const selectButton = el('button', {
      type: 'button',
      className: 'tool',
      id: 'mod-select',
      textContent: 'Drag to select',
    });
    selectButton.setAttribute('aria-pressed', 'false');
    this.panel.append(
      el(
        'div',
        { className: 'templates-head' },
        el('h2', { textContent: 'Moderation' }),
        el('button', {
          type: 'button',
          className: 'tool',
          id: 'mod-close',
          textContent: '✕',
          ariaLabel: 'Close moderation',
        }),
      ),
      el(
        'div',
        { className: 'mod-region' },
        selectButton,
        num('mod-x', 'x'),
        num('mod-y', 'y'),
        num('mod-w', 'w'),
        num('mod-h', 'h'),
      ),
      el(
        'div',
        { className: 'mod-time' },
        el('label', {}, 'From', since),
        el('label', {}, 'or at', el('input', { id: 'mod-since-at', type: 'datetime-local', step: '1' })),
        el('label', {}, 'Until (who placed only)', el('input', { id: 'mod-until', type: 'datetime-local', step: '1' })),
        el('label', {}, 'Only user', el('input', { id: 'mod-user', placeholder: 'username or id', maxLength: 64 })),
      ),
      el('p', {
        className: 'template-note',
        textContent:
          'A rollback without a user restores the area to how it was at "From"; with a user it undoes their placements since then, unless someone else placed there since.',
      }),
      el(
        'div',
        { className: 'mod-actions' },
        el('button', { type: 'button', className: 'tool', id: 'mod-survey', textContent: 'Who placed' }),
        el('button', { type: 'button', className: 'tool', id: 'mod-preview', textContent: 'Preview rollback' }),
        el('button', { type: 'button', className: 'tool', id: 'mod-audit', textContent: 'Audit log' }),
      ),
      this.message,
      this.users,
      this.previewBox,
      this.auditList,
    );
    document.body.append(this.panel, this.dialog);
    this.toggle.addEventListener('click', () => this.setOpen(this.panel.hidden));
    this.panel.querySelector('#mod-close')?.addEventListener('click', () => this.setOpen(false));
    selectButton.addEventListener('click', () => this.setDragging(this.drag.hidden));
    for (const id of ['mod-x', 'mod-y', 'mod-w', 'mod-h'])
      this.input(id).addEventListener('change', () => this.readRegionInputs());
    this.panel.querySelector('#mod-survey')?.addEventListener('click', () => void this.run(() => this.survey()));
    this.panel.querySelector('#mod-preview')?.addEventListener('click', () => void this.run(() => this.preview()));
    this.panel.querySelector('#mod-audit')?.addEventListener('click', () => void this.run(() => this.audit()));
    this.attachDrag();
  }

  private input(id: string): HTMLInputElement {
    return this.panel.querySelector(`#${id}`) as HTMLInputElement;
  }

  private setOpen(open: boolean): void {
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-pressed', String(open));
    if (!open) this.setDragging(false);
    this.layout();
  }

  private setDragging(on: boolean): void {
    this.drag.hidden = !on;
    // On a phone the console is a bottom sheet over the canvas: it steps aside while the area is dragged.
    this.panel.classList.toggle('selecting', on);
    this.panel.querySelector('#mod-select')?.setAttribute('aria-pressed', String(on));
    if (on) this.say('Drag across the canvas to select the area.', 'wait');
  }

  private attachDrag(): void {
    let start: { x: number; y: number } | null = null;
    const point = (e: PointerEvent) => {
      const r = this.host.viewport.getBoundingClientRect();
      return this.host.toPixel(e.clientX - r.left, e.clientY - r.top);
    };
    this.drag.addEventListener('pointerdown', (e) => {
      // Not the viewport's gestures: while selecting, a drag draws the rectangle instead of panning.
      e.stopPropagation();
      start = point(e);
      this.drag.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    this.drag.addEventListener('pointermove', (e) => {
      e.stopPropagation();
      const p = start && point(e);
      if (start && p) this.setRegion(normalizeDrag(start, p));
    });
    this.drag.addEventListener('pointerup', (e) => {
      e.stopPropagation();
      const p = start && point(e);
      if (start && p) this.setRegion(normalizeDrag(start, p));
      start = null;
      this.setDragging(false);
      if (this.region)
        this.say(`Selected ${this.region.width}×${this.region.height} at (${this.region.x}, ${this.region.y}).`, 'ok');
    });
  }

  private setRegion(region: Region): void {
    this.region = region;
    this.input('mod-x').value = String(region.x);
    this.input('mod-y').value = String(region.y);
    this.input('mod-w').value = String(region.width);
    this.input('mod-h').value = String(region.height);
    this.previewBox.hidden = true;
    this.layout();
  }

  private readRegionInputs(): void {
    const [x, y, width, height] = ['mod-x', 'mod-y', 'mod-w', 'mod-h'].map((id) =>
      Math.max(0, Math.floor(Number(this.input(id).value) || 0)),
    ) as [number, number, number, number];
    if (width > 0 && height > 0) this.setRegion({ x, y, width, height });
    else {
      // w or h of 0: no rectangle (a user's placements anywhere).
      this.region = null;
      this.layout();
    }
  }

  private selection(): Selection {
    this.readRegionInputs();
    const user = this.input('mod-user').value.trim();
    if (!this.region && !user)
      throw new ModApiError(400, 'Select an area (drag on the canvas, or type x, y, w, h), a user, or both.');
    const at = this.input('mod-since-at').value;
    const since = at
      ? new Date(at).getTime()
      : Math.max(0, Date.now() - Number((this.panel.querySelector('#mod-since') as HTMLSelectElement).value));
    const untilValue = this.input('mod-until').value;
    return {
      ...(this.region ? { region: this.region } : {}),
      since: Number.isFinite(since) ? since : 0,
      ...(untilValue ? { until: new Date(untilValue).getTime() } : {}),
      ...(user ? { user } : {}),
    };
  }

  private say(text: string, kind: 'ok' | 'error' | 'wait' = 'ok'): void {
    this.message.textContent = text;
    this.message.dataset.kind = kind;
  }

  private async run(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.say(error instanceof Error ? error.message : String(error), 'error');
    }
  }

  private async survey(): Promise<void> {
    this.say('Reading the stream…', 'wait');
    const result: SurveyResult = await modApi.survey(this.selection());
    this.say(
      `${count(result.placements)} placements by ${count(result.userCount)} users on ${count(result.pixels)} pixels.`,
      'ok',
    );
    this.users.replaceChildren(
      ...result.users.map((u) => {
        const who = u.username ?? u.userId;
        const only = el('button', { type: 'button', className: 'tool', textContent: 'Only this user' });
        only.addEventListener('click', () => (this.input('mod-user').value = u.userId));
        return el(
          'li',
          { className: 'mod-user', dataset: { userId: u.userId } },
          el('strong', { textContent: who }),
          ` ${count(u.placements)} placements, ${time(u.firstAt)} – ${time(u.lastAt)} `,
          el('span', { className: 'mod-buttons' }, only, ...this.banButtons(u.userId, who)),
        );
      }),
    );
  }

  private async preview(): Promise<void> {
    this.say('Planning the rollback…', 'wait');
    const selection = this.selection();
    const p = await modApi.preview(selection);
    const img = (id: string, png: string, alt: string) =>
      el('img', { id, src: `data:image/png;base64,${png}`, alt, width: p.region.width, height: p.region.height });
    const apply = el('button', {
      type: 'button',
      className: 'place',
      id: 'mod-apply',
      textContent: `Restore ${count(p.pixels)} pixels…`,
      disabled: p.pixels === 0,
    });
    // Disabled while its dialog is open and the apply runs: one confirmed action per preview.
    apply.addEventListener('click', () => {
      apply.disabled = true;
      void this.run(() => this.confirmApply(selection, p.pixels)).finally(() => (apply.disabled = false));
    });
    this.previewBox.replaceChildren(
      el('figure', {}, img('mod-before', p.beforePng, 'Before'), el('figcaption', { textContent: 'Before (now)' })),
      el('figure', {}, img('mod-after', p.afterPng, 'After'), el('figcaption', { textContent: 'After the rollback' })),
      apply,
    );
    this.previewBox.hidden = false;
    this.say(p.pixels === 0 ? 'Nothing to restore here.' : `The rollback restores ${count(p.pixels)} pixels.`, 'ok');
  }

  private async confirmApply(selection: Selection, pixels: number): Promise<void> {
    const r = selection.region;
    const where = r ? ` in ${r.width}×${r.height} at (${r.x}, ${r.y})` : ` placed by ${selection.user ?? ''}`;
    if (
      !(await this.confirm(
        `Restore ${count(pixels)} pixels${where}? This writes compensating events every player sees.`,
        `Restore ${count(pixels)} pixels`,
      ))
    )
      return;
    const key = newIdempotencyKey();
    this.say('Applying…', 'wait');
    // A failed or lost response is retried with the same key: the server writes each pixel once.
    let result;
    try {
      result = await modApi.apply(selection, key);
    } catch (error) {
      if (error instanceof ModApiError && error.status < 500) throw error;
      result = await modApi.apply(selection, key);
    }
    this.previewBox.hidden = true;
    this.say(
      `Restored ${count(result.applied)} pixels (${result.rollbackId})${result.superseded > 0 ? `; ${count(result.superseded)} skipped, placed over since the preview` : ''}${result.contended > 0 ? `; ${count(result.contended)} contended, run again` : ''}.`,
      'ok',
    );
  }

  private banButtons(userId: string, who: string): HTMLButtonElement[] {
    const make = (label: string, text: string, act: (key: string) => Promise<unknown>, done: string) => {
      const b = el('button', {
        type: 'button',
        className: 'tool',
        textContent: label,
        dataset: { modAction: label.toLowerCase() },
      });
      b.addEventListener(
        'click',
        () =>
          void this.run(async () => {
            if (!(await this.confirm(text, label))) return;
            await act(newIdempotencyKey());
            this.say(done, 'ok');
          }),
      );
      return b;
    };
    return [
      make(
        'Ban',
        `Ban ${who}? Their connections close and they cannot place.`,
        (k) => modApi.ban(userId, 'ban', k),
        `${who} is banned.`,
      ),
      make(
        'Shadow-ban',
        `Shadow-ban ${who}? Their placements look accepted to them but reach nobody.`,
        (k) => modApi.ban(userId, 'shadow', k),
        `${who} is shadow-banned.`,
      ),
      make('Unban', `Lift every ban of ${who}?`, (k) => modApi.unban(userId, k), `${who} is unbanned.`),
    ];
  }

  private async audit(): Promise<void> {
    const { entries } = await modApi.audit(50);
    const line = (e: AuditEntry) =>
      e.kind === 'rollback'
        ? `${time(e.firstAt)}: ${e.moderator ?? e.moderatorId} restored ${count(e.pixels)} pixels (${e.rollbackId})`
        : `${time(e.at)}: ${e.moderator ?? e.moderatorId} ${e.action} ${e.target ?? e.targetId}`;
    this.auditList.replaceChildren(
      ...entries.map((e) => el('li', { textContent: line(e), dataset: { kind: e.kind } })),
    );
    this.say(
      entries.length === 0 ? 'No moderator actions yet.' : `${entries.length} most recent moderator actions.`,
      'ok',
    );
  }

  private confirm(text: string, ok: string): Promise<boolean> {
    return confirmDialog(this.dialog, text, ok);
  }
}
