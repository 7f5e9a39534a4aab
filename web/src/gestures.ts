/**
 * Mouse, pen and touch input on the viewport through Pointer Events, turned into four intents:
 * pan (drag with one pointer), zoom (pinch with two, or the wheel), tap (press and release without
 * moving: selects a pixel, so placement never needs right-click or hover) and hover (coordinates).
 */
export interface GestureHandlers {
  pan(dx: number, dy: number): void;
  zoomAt(factor: number, sx: number, sy: number): void;
  tap(sx: number, sy: number): void;
  hover(point: { x: number; y: number } | null): void;
  gestureStart?(): void;
}

/** Movement (CSS px) below which a press still counts as a tap: fingers wobble. */
const TAP_SLOP = 8;

interface Tracked {
  x: number;
  y: number;
  startX: number;
  startY: number;
}

export function attachGestures(el: HTMLElement, on: GestureHandlers): () => void {
  const pointers = new Map<number, Tracked>();
  let dragged = false;
  let multi = false;
  let pinchDistance = 0;
  let pinchMid = { x: 0, y: 0 };

  const local = (e: PointerEvent | WheelEvent) => {
    const r = el.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const pair = () => {
    const [a, b] = [...pointers.values()] as [Tracked, Tracked];
    return { distance: Math.hypot(a.x - b.x, a.y - b.y), mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
  };

  const down = (e: PointerEvent) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    const p = local(e);
    el.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: p.x, y: p.y, startX: p.x, startY: p.y });
    if (pointers.size === 1) {
      dragged = false;
      multi = false;
      on.gestureStart?.();
    }
    if (pointers.size === 2) {
      multi = true;
      ({ distance: pinchDistance, mid: pinchMid } = pair());
    }
  };

  const move = (e: PointerEvent) => {
    const p = local(e);
    const t = pointers.get(e.pointerId);
    if (!t) {
      if (e.pointerType === 'mouse') on.hover(p);
      return;
    }
    const dx = p.x - t.x;
    const dy = p.y - t.y;
    t.x = p.x;
    t.y = p.y;
    if (pointers.size === 1) {
      if (!dragged && Math.hypot(p.x - t.startX, p.y - t.startY) > TAP_SLOP) {
        dragged = true;
        el.classList.add('dragging');
      }
      if (dragged && !multi) on.pan(dx, dy);
      if (e.pointerType === 'mouse') on.hover(p);
    } else if (pointers.size === 2) {
      const { distance, mid } = pair();
      if (pinchDistance > 0 && distance > 0) on.zoomAt(distance / pinchDistance, mid.x, mid.y);
      on.pan(mid.x - pinchMid.x, mid.y - pinchMid.y);
      pinchDistance = distance;
      pinchMid = mid;
    }
  };

  const up = (e: PointerEvent) => {
    const t = pointers.get(e.pointerId);
    if (!t) return;
    pointers.delete(e.pointerId);
    if (pointers.size === 0) {
      el.classList.remove('dragging');
      if (!dragged && !multi && e.type === 'pointerup') {
        const p = local(e);
        on.tap(p.x, p.y);
      }
    } else if (pointers.size === 1) {
      // One finger left after a pinch: keep it from jumping or counting as a tap.
      pinchDistance = 0;
    }
  };

  const wheel = (e: WheelEvent) => {
    e.preventDefault();
    const p = local(e);
    const unit = e.deltaMode === 1 ? 0.05 : e.deltaMode === 2 ? 1 : 0.0025;
    // Trackpad pinch arrives as a ctrl+wheel with small deltas: make it as responsive as a wheel notch.
    const factor = Math.exp(-e.deltaY * unit * (e.ctrlKey ? 4 : 1));
    on.zoomAt(Math.min(4, Math.max(0.25, factor)), p.x, p.y);
  };

  const leave = (e: PointerEvent) => {
    if (e.pointerType === 'mouse' && pointers.size === 0) on.hover(null);
  };

  el.addEventListener('pointerdown', down);
  el.addEventListener('pointermove', move);
  el.addEventListener('pointerup', up);
  el.addEventListener('pointercancel', up);
  el.addEventListener('pointerleave', leave);
  el.addEventListener('wheel', wheel, { passive: false });
  return () => {
    el.removeEventListener('pointerdown', down);
    el.removeEventListener('pointermove', move);
    el.removeEventListener('pointerup', up);
    el.removeEventListener('pointercancel', up);
    el.removeEventListener('pointerleave', leave);
    el.removeEventListener('wheel', wheel);
  };
}
