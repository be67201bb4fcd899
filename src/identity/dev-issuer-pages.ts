/**
 * The development issuer's verification page: enter the user code, pick a demo user. Every value that reaches the
 * HTML goes through `escapeHtml`, including the user code echoed back from the query string.
 */
import { DEMO_USERS } from './demo-users.js';

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** No script, nothing framed, forms only to ourselves. */
export const PAGE_HEADERS = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
});

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
.warn{background:#fee;border:1px solid #c00;padding:.5rem 1rem}label{display:block;margin:.3rem 0}
.error{color:#c00}</style></head>
<body><p class="warn"><strong>Development issuer.</strong> Anyone can sign in as any demo user (all synthetic).
Never use it in production.</p>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

export function verificationPage(options: { action: string; userCode: string; error?: string }): string {
  const users = DEMO_USERS.map(
    (u, i) =>
      `<label><input type="radio" name="username" value="${escapeHtml(u.username)}"${i === 0 ? ' checked' : ''}> ` +
      `<strong>${escapeHtml(u.name)}</strong> (${escapeHtml(u.username)}): ${escapeHtml(u.role)}; ` +
      `groups ${escapeHtml(u.groups.join(', '))}${u.mfa ? '; signs in with MFA' : ''}</label>`,
  ).join('\n');
  const error = options.error ? `<p class="error">${escapeHtml(options.error)}</p>` : '';
  return page(
    'Sign in to phigate',
    `${error}<form method="post" action="${escapeHtml(options.action)}">
<label>Code shown in your terminal <input name="user_code" value="${escapeHtml(options.userCode)}" autocomplete="off" required></label>
<fieldset><legend>Sign in as</legend>
${users}
</fieldset>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function signedInPage(displayName: string): string {
  return page(
    'Signed in',
    `<p>Signed in as <strong>${escapeHtml(displayName)}</strong>. You can close this page and return to your terminal.</p>`,
  );
}
