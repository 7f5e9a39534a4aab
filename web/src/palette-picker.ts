/**
 * The colour palette as a radio group of large swatches: each has its colour name as accessible label and
 * tooltip, arrow keys move between them (roving tabindex), and a tap or click selects.
 */
export class PalettePicker {
  private readonly root: HTMLElement;
  private buttons: HTMLButtonElement[] = [];
  private selectedIndex: number | null = null;
  onSelect: (color: number) => void = () => undefined;

  constructor(root: HTMLElement) {
    this.root = root;
    root.addEventListener('keydown', (e) => this.key(e));
  }

  get selected(): number | null {
    return this.selectedIndex;
  }

  setPalette(hexes: readonly string[], names: readonly string[]): void {
    this.root.replaceChildren();
    this.buttons = hexes.map((hex, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'swatch';
      b.style.background = hex;
      const name = names[i] ?? hex;
      b.title = name;
      b.setAttribute('aria-label', name);
      b.setAttribute('role', 'radio');
      b.setAttribute('aria-checked', 'false');
      b.dataset.color = String(i);
      b.tabIndex = i === 0 ? 0 : -1;
      b.addEventListener('click', () => this.select(i));
      this.root.append(b);
      return b;
    });
    if (this.selectedIndex !== null && this.selectedIndex < hexes.length) this.select(this.selectedIndex, false);
    else this.selectedIndex = null;
  }

  select(i: number, notify = true): void {
    if (i < 0 || i >= this.buttons.length) return;
    this.selectedIndex = i;
    this.buttons.forEach((b, j) => {
      b.setAttribute('aria-checked', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
    });
    if (notify) this.onSelect(i);
  }

  private key(e: KeyboardEvent): void {
    const current = this.buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (current < 0) return;
    const columns = Math.max(1, Math.round(this.root.clientWidth / ((this.buttons[0]?.offsetWidth ?? 34) + 4)));
    const step: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
    const delta = step[e.key];
    if (delta === undefined) return;
    e.preventDefault();
    const next = Math.min(this.buttons.length - 1, Math.max(0, current + delta));
    this.select(next);
    this.buttons[next]?.focus();
  }
}
