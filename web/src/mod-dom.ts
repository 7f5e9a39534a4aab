/** The few DOM helpers the moderator console builds itself with (no framework). */

export const el = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  if (dataset) Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
};
export const num = (id: string, label: string) =>
  el('label', {}, label, el('input', { id, type: 'number', min: '0', step: '1', inputMode: 'numeric', value: '0' }));
export const time = (t: number) => new Date(t).toLocaleString();
export const count = (n: number) => n.toLocaleString('en-US');

/** A modal that names the action; resolves once, however many times its button is clicked. */
export function confirmDialog(dialog: HTMLDialogElement, text: string, ok: string): Promise<boolean> {
  return new Promise((resolve) => {
    const yes = el('button', { type: 'button', className: 'place', id: 'mod-confirm-ok', textContent: ok });
    const no = el('button', { type: 'button', className: 'tool', id: 'mod-confirm-cancel', textContent: 'Cancel' });
    let settled = false;
    const finish = (answer: boolean) => {
      if (settled) return;
      settled = true;
      dialog.close();
      resolve(answer);
    };
    yes.addEventListener('click', () => finish(true));
    no.addEventListener('click', () => finish(false));
    dialog.onclose = () => finish(false);
    dialog.replaceChildren(
      el('p', { id: 'mod-confirm-text', textContent: text }),
      el('div', { className: 'account-actions' }, yes, no),
    );
    dialog.showModal();
  });
}
