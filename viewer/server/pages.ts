/**
 * The two pages the server renders itself: the login form (served before any session exists,
 * so it needs nothing else from the server) and the notice shown when the client is not built.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const STYLE = `
  *{box-sizing:border-box} body{margin:0;font:15px/1.4 system-ui,sans-serif;background:#f3f5f8;color:#1c2430}
  main{max-width:380px;margin:12vh auto;background:#fff;border:1px solid #d6dce4;border-radius:8px;padding:28px}
  h1{font-size:20px;margin:0 0 4px} p.sub{margin:0 0 20px;color:#5b6675}
  label{display:block;margin:12px 0 4px;font-weight:600;font-size:13px}
  input{width:100%;padding:8px 10px;border:1px solid #b8c2cf;border-radius:5px;font:inherit}
  button{margin-top:18px;width:100%;padding:9px;border:0;border-radius:5px;background:#1f5fbf;color:#fff;font:inherit;font-weight:600;cursor:pointer}
  button.alt{background:#4a5566}
  .error{background:#fdecec;border:1px solid #e9a6a6;color:#8a1c1c;padding:8px 10px;border-radius:5px;margin-bottom:8px}
  hr{border:0;border-top:1px solid #e2e6ec;margin:22px 0}
`;

export interface LoginPageOptions {
  error?: string;
  user?: string;
  demo: boolean;
}

export function loginPage(options: LoginPageOptions): string {
  const error = options.error ? `<div class="error" role="alert">${escapeHtml(options.error)}</div>` : '';
  const demo = options.demo
    ? `<hr><form method="post" action="/login">
        <input type="hidden" name="demo" value="carrier">
        <label for="demo-provider">Demo: open a carrier's inbox without a password</label>
        <input id="demo-provider" name="provider" placeholder="provider id, e.g. acme-voice" pattern="[A-Za-z0-9_\\-]{1,64}" required>
        <button class="alt" type="submit">Open inbox</button>
      </form>
      <form method="post" action="/login"><input type="hidden" name="demo" value="operator"><button class="alt" type="submit">Continue as operator (demo)</button></form>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>robotrace viewer — log in</title><style>${STYLE}</style></head>
<body><main>
  <h1>robotrace viewer</h1><p class="sub">Log in as an operator or as a carrier.</p>
  ${error}
  <form method="post" action="/login">
    <label for="user">User</label><input id="user" name="user" autocomplete="username" value="${escapeHtml(options.user ?? '')}" required autofocus>
    <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit">Log in</button>
  </form>
  ${demo}
</main></body></html>`;
}

export function notBuiltPage(dir: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>robotrace viewer</title><style>${STYLE}</style></head>
<body><main><h1>Viewer client not built</h1><p>No <code>index.html</code> in <code>${escapeHtml(dir)}</code>.
Run <code>npm run build</code>, then reload. The JSON API under <code>/api/</code> works meanwhile.</p></main></body></html>`;
}
