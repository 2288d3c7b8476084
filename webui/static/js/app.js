// The page: login, role, and the hash router (#/fleet, #/agent/ID, …).
import { h, clear, status } from './dom.js';
import { get, token, setToken } from './api.js';
import { fleetPage, groupsPage, jobsPage, jobPage, groupPage } from './fleet.js';
import { agentPage } from './agent.js';
import { chartsPage } from './charts.js';
import { eventsPage } from './events.js';

const main = document.getElementById('main');
// ctx is what every page gets: the caller's role and what it may do, and
// an AbortSignal that ends when the page is left (streams, timers).
let pageAbort = new AbortController();

async function whoami() {
  if (!token()) return null;
  try {
    return (await get('/api/v1/whoami', { onUnauthorized: false })).role;
  } catch {
    return null;
  }
}

function loginPage(msg) {
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const err = h('p', { class: 'error', id: 'login-error', role: 'alert' }, msg || '');
  const form = h('form', { class: 'card login', 'aria-labelledby': 'login-title', onsubmit: async e => {
    e.preventDefault();
    setToken(input.value.trim());
    const role = await whoami();
    if (!role) {
      setToken('');
      err.textContent = 'That token is not valid here.';
      input.focus();
      return;
    }
    if (!location.hash || location.hash === '#/login') location.hash = '#/fleet';
    route();
  } },
  h('h1', { id: 'login-title' }, 'Log in'),
  h('p', {}, 'Paste an API token (the first admin token is in the data directory, file admin.token).'),
  h('label', { for: 'token' }, 'API token'), input,
  h('button', { type: 'submit', id: 'login' }, 'Log in'), err);
  clear(main, form);
  input.focus();
}

let role = null;

async function route() {
  pageAbort.abort();
  pageAbort = new AbortController();
  if (!role) role = await whoami();
  if (!role) { loginPage(); return; }
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = `role: ${role}`;
  document.getElementById('who').dataset.role = role;
  const ctx = { role, canWrite: role === 'operator' || role === 'admin', isAdmin: role === 'admin', signal: pageAbort.signal };
  const [, first, ...rest] = (location.hash || '#/fleet').slice(1).split('/');
  const page = (first || '').split('?')[0];
  const arg = decodeURIComponent(rest.join('/'));
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${page}`) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  status('');
  // Each page draws in a view of its own: one still reading when the user
  // moves on draws in a view no longer shown.
  const view = h('div', { class: 'view' });
  main.replaceChildren(view);
  try {
    switch (page) {
      case 'agent': await agentPage(view, arg, ctx); break;
      case 'groups': await groupsPage(view, ctx); break;
      case 'group': await groupPage(view, arg, ctx); break;
      case 'jobs': await jobsPage(view, ctx); break;
      case 'job': await jobPage(view, arg, ctx); break;
      case 'charts': await chartsPage(view, ctx); break;
      case 'events': await eventsPage(view, ctx); break;
      default: await fleetPage(view, ctx);
    }
  } catch (e) {
    clear(view, h('p', { class: 'error', role: 'alert' }, `Error: ${e.message}`));
  }
}

document.getElementById('logout').addEventListener('click', () => {
  setToken('');
  role = null;
  pageAbort.abort();
  loginPage('Logged out.');
});
window.addEventListener('uspkit-unauthorized', () => { setToken(''); role = null; pageAbort.abort(); loginPage('The token was refused; log in again.'); });
window.addEventListener('hashchange', route);
route();
