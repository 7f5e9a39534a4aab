/**
 * Sign-in state: a guest by default (the edge's signed guest cookie), or an account through
 * `/api/v1/auth/{login,register,logout}`. Those POSTs carry `X-Rplace-Csrf: 1` (see src/domain/auth/origin.ts).
 * After a change of identity the page reloads, so the WebSocket reconnects as the new user; the URL hash
 * keeps the view.
 */
import { userLabel } from '../../proto/user-label.ts';

const CSRF = { 'x-rplace-csrf': '1', 'content-type': 'application/json' };

export interface Me {
  readonly userId: string | null;
  readonly username: string | null;
  readonly isGuest: boolean;
}

export class Account {
  private readonly button: HTMLButtonElement;
  private readonly dialog: HTMLDialogElement;
  private readonly form: HTMLFormElement;
  private readonly error: HTMLElement;
  private me: Me | null = null;
  private readonly reload: () => void;

  constructor(reload: () => void = () => location.reload()) {
    this.reload = reload;
    this.button = document.getElementById('account') as HTMLButtonElement;
    this.dialog = document.getElementById('account-dialog') as HTMLDialogElement;
    this.form = document.getElementById('account-form') as HTMLFormElement;
    this.error = document.getElementById('account-error') as HTMLElement;
    this.button.addEventListener('click', () => {
      if (this.me && !this.me.isGuest) void this.logout();
      else {
        this.error.textContent = '';
        this.dialog.showModal();
      }
    });
    (document.getElementById('account-cancel') as HTMLButtonElement).addEventListener('click', () =>
      this.dialog.close(),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const submitter = (e as SubmitEvent).submitter as HTMLButtonElement | null;
      void this.submit(submitter?.value === 'register' ? 'register' : 'login');
    });
  }

  /** Shows who is placing: the account's name, or "Guest …". */
  show(me: Me): void {
    this.me = me;
    const label = document.getElementById('user') as HTMLElement;
    if (!me.isGuest && me.username) {
      label.textContent = me.username;
      label.title = `Signed in as ${me.username}`;
      this.button.textContent = 'Sign out';
    } else {
      label.textContent = (me.userId ? userLabel(me.userId, null) : null) ?? 'Guest';
      label.title = 'Placing as a guest';
      this.button.textContent = 'Sign in';
    }
  }

  async refresh(): Promise<void> {
    try {
      const res = await fetch('/api/v1/auth/me', { credentials: 'include' });
      if (res.ok) this.show((await res.json()) as Me);
    } catch {
      // The welcome message still says who we are.
    }
  }

  private async submit(action: 'login' | 'register'): Promise<void> {
    const data = new FormData(this.form);
    const body = JSON.stringify({
      username: String(data.get('username') ?? ''),
      password: String(data.get('password') ?? ''),
    });
    this.error.textContent = action === 'login' ? 'Signing in…' : 'Creating the account…';
    try {
      const res = await fetch(`/api/v1/auth/${action}`, {
        method: 'POST',
        headers: CSRF,
        body,
        credentials: 'include',
      });
      if (res.ok) {
        this.dialog.close();
        this.reload();
        return;
      }
      const error = (await res.json().catch(() => ({}))) as { message?: string };
      this.error.textContent =
        res.status === 404 ? 'Accounts are not enabled on this server.' : (error.message ?? `Failed (${res.status}).`);
    } catch {
      this.error.textContent = 'Could not reach the server.';
    }
  }

  private async logout(): Promise<void> {
    await fetch('/api/v1/auth/logout', { method: 'POST', headers: CSRF, body: '{}', credentials: 'include' }).catch(
      () => undefined,
    );
    this.reload();
  }
}
