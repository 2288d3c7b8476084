// The fleet: agents (paged, sortable, filterable), groups and jobs.
import { h, clear, ago, fmtTime, status } from './dom.js';
import { get, post, call, stream, ApiError } from './api.js';


export function modelOf(a) { return a.model || a.device_info?.ModelName || ''; }
export function versionOf(a) { return a.version || a.software_version || a.device_info?.SoftwareVersion || ''; }

function onlineBadge(online) {
  return h('span', { class: `badge ${online ? 'on' : 'off'}` }, online ? 'online' : 'offline');
}

/** fleetPage lists the agents with filters in the URL's query (#/fleet?q=…). */
export async function fleetPage(main, ctx) {
  const params = new URLSearchParams((location.hash.split('?')[1]) || '');
  const st = { q: params.get('q') || '', model: params.get('model') || '', version: params.get('version') || '', online: params.get('online') || '',
    tag: params.get('tag') || '', group: params.get('group') || '', sort: params.get('sort') || 'id', order: params.get('order') || 'asc', offset: +params.get('offset') || 0 };
  const PAGE = Math.min(Math.max(+params.get('limit') || 25, 1), 500); // agents a page
  const field = (name, label, attrs = {}) => h('div', { class: 'field' }, h('label', { for: `f-${name}` }, label),
    h('input', { id: `f-${name}`, name, value: st[name], type: 'search', ...attrs }));
  const online = h('select', { id: 'f-online', name: 'online' }, h('option', { value: '' }, 'any'), h('option', { value: 'true' }, 'online'), h('option', { value: 'false' }, 'offline'));
  online.value = st.online;
  const groups = h('select', { id: 'f-group', name: 'group' }, h('option', { value: '' }, 'any'));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter agents', onsubmit: e => {
    e.preventDefault();
    const fd = new FormData(form);
    const q = new URLSearchParams();
    for (const [k, v] of fd) if (v) q.set(k, v);
    if (params.get('limit')) q.set('limit', params.get('limit'));
    if (st.sort !== 'id') q.set('sort', st.sort);
    if (st.order !== 'asc') q.set('order', st.order);
    location.hash = `#/fleet?${q}`;
  } },
  field('q', 'Endpoint ID contains'), field('model', 'Model'), field('version', 'Version'), field('tag', 'Tag'),
  h('div', { class: 'field' }, h('label', { for: 'f-online' }, 'State'), online),
  h('div', { class: 'field' }, h('label', { for: 'f-group' }, 'Group'), groups),
  h('button', { type: 'submit', id: 'filter' }, 'Filter'));
  const table = h('div', { class: 'scroll' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  clear(main, h('h1', {}, 'Fleet'), form, table, pager);
  // Groups fill the group filter when the API has them.
  get('/api/v1/groups', { accept: [404] }).then(g => {
    for (const x of listOf(g, 'groups')) groups.appendChild(h('option', { value: x.id }, x.name || x.id));
    groups.value = st.group;
  }).catch(() => {});
  const q = new URLSearchParams({ limit: PAGE, offset: st.offset, sort: st.sort, order: st.order });
  for (const k of ['q', 'model', 'version', 'online', 'tag', 'group']) if (st[k]) q.set(k, st[k]);
  const data = await get(`/api/v1/agents?${q}`);
  const agents = data.agents || [];
  const sortLink = (key, label) => {
    const active = st.sort === key;
    const next = active && st.order === 'asc' ? 'desc' : 'asc';
    const p = new URLSearchParams(params); p.set('sort', key); p.set('order', next); p.delete('offset');
    return h('th', { scope: 'col', 'aria-sort': active ? (st.order === 'asc' ? 'ascending' : 'descending') : 'none' },
      h('a', { href: `#/fleet?${p}`, 'aria-label': `Sort by ${label}` }, label, active ? (st.order === 'asc' ? ' ▲' : ' ▼') : ''));
  };
  clear(table, h('table', { class: 'list', id: 'agents' },
    h('caption', {}, `${data.total ?? agents.length} agent${(data.total ?? agents.length) === 1 ? '' : 's'}`),
    h('thead', {}, h('tr', {}, ctx.canWrite ? h('th', { scope: 'col' }, h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select every agent of this page',
      onchange: e => { for (const c of table.querySelectorAll('tbody input[type=checkbox]')) c.checked = e.target.checked; } })) : null,
      sortLink('online', 'State'), sortLink('id', 'Endpoint ID'), sortLink('model', 'Model'), sortLink('version', 'Version'),
      sortLink('last_seen', 'Last contact'), h('th', { scope: 'col' }, 'Tags'))),
    h('tbody', {}, agents.map(a => h('tr', { dataset: { id: a.id } },
      ctx.canWrite ? h('td', {}, h('input', { type: 'checkbox', class: 'pick', value: a.id, 'aria-label': `Select ${a.id}` })) : null,
      h('td', { class: 'state' }, onlineBadge(a.online)),
      h('td', {}, h('a', { href: `#/agent/${encodeURIComponent(a.id)}`, class: 'agent-link' }, a.id)),
      h('td', {}, modelOf(a)), h('td', {}, versionOf(a)),
      h('td', { title: fmtTime(a.last_seen) }, ago(a.last_seen)),
      h('td', {}, (a.tags || []).map(t => h('span', { class: 'tag' }, t))))))));
  const total = data.total ?? agents.length;
  const page = (off, label, id) => { const p = new URLSearchParams(params); p.set('offset', off); return h('a', { href: `#/fleet?${p}`, id }, label); };
  clear(pager, st.offset > 0 ? page(Math.max(st.offset - PAGE, 0), '← Previous', 'page-prev') : null,
    h('span', { id: 'page-range' }, `${Math.min(st.offset + 1, total)}–${Math.min(st.offset + PAGE, total)} of ${total}`),
    st.offset + PAGE < total ? page(st.offset + PAGE, 'Next →', 'page-next') : null);
  if (ctx.canWrite) {
    const form = jobForm('', () => [...table.querySelectorAll('input.pick:checked')].map(c => c.value));
    form.hidden = true;
    const toggle = h('button', { type: 'button', class: 'write', id: 'job-selected', 'aria-expanded': 'false', onclick: () => {
      form.hidden = !form.hidden;
      toggle.setAttribute('aria-expanded', String(!form.hidden));
    } }, 'Run a job on the selected agents…');
    main.append(toggle, form);
  }
  // Agents coming and going update their row.
  const live = h('span', { class: 'muted', id: 'fleet-live' }, '');
  pager.append(live);
  stream('/api/v1/events/stream', (kind, ev) => {
    if (kind !== 'online' && kind !== 'offline') return;
    const row = [...table.querySelectorAll('tbody tr')].find(r => r.dataset.id === ev.agent);
    if (row) clear(row.querySelector('td.state'), onlineBadge(kind === 'online'));
  }, ctx.signal, s => { live.textContent = s === 'open' ? 'state updates live' : 'reconnecting…'; });
}

/** listOf reads a list answer that is either an array or {key: [...]}. */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  return (data && data[key]) || [];
}

function fleetMissing(main, what) {
  clear(main, h('h1', {}, what), h('p', { class: 'note', id: 'fleet-missing' }, `This controller has no ${what.toLowerCase()} API.`));
}

export async function groupsPage(main, ctx) {
  let data;
  try { data = await get('/api/v1/groups'); } catch (e) { if (e instanceof ApiError && e.status === 404) return fleetMissing(main, 'Groups'); throw e; }
  const groups = listOf(data, 'groups');
  const out = [h('h1', {}, 'Groups'), h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'groups' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Members'))),
    h('tbody', {}, groups.map(g => h('tr', {},
      h('td', {}, h('a', { href: `#/group/${encodeURIComponent(g.id)}` }, g.name || g.id)),
      h('td', {}, g.static ? `${g.static.length} agents` : `filter ${JSON.stringify(g.filter || {})}`))))))];
  if (ctx.canWrite) out.push(groupForm(() => groupsPage(main, ctx)));
  clear(main, ...out);
}

function groupForm(done) {
  const name = h('input', { id: 'g-name', required: true });
  const ids = h('textarea', { id: 'g-static', rows: 3, placeholder: 'one Endpoint ID a line' });
  const q = h('input', { id: 'g-q' });
  const model = h('input', { id: 'g-model' });
  const err = h('p', { class: 'error', role: 'alert' });
  return h('form', { class: 'card write', 'aria-labelledby': 'g-title', onsubmit: async e => {
    e.preventDefault();
    const body = { name: name.value.trim() };
    const list = ids.value.split(/\s+/).filter(Boolean);
    if (list.length) body.static = list;
    else {
      body.filter = {};
      if (q.value) body.filter.q = q.value;
      if (model.value) body.filter.model = model.value;
    }
    try { await post('/api/v1/groups', body); status(`Group ${body.name} created`); done(); } catch (x) { err.textContent = x.message; }
  } }, h('h2', { id: 'g-title' }, 'New group'),
  h('label', { for: 'g-name' }, 'Name'), name,
  h('label', { for: 'g-static' }, 'Members (Endpoint IDs)'), ids,
  h('p', {}, 'or a filter:'),
  h('label', { for: 'g-q' }, 'Endpoint ID contains'), q,
  h('label', { for: 'g-model' }, 'Model'), model,
  h('button', { type: 'submit', id: 'g-create' }, 'Create group'), err);
}

export async function groupPage(main, id, ctx) {
  const g = await get(`/api/v1/groups/${encodeURIComponent(id)}`);
  const members = listOf(await get(`/api/v1/groups/${encodeURIComponent(id)}/agents`), 'agents');
  const out = [h('h1', {}, `Group ${g.name || g.id}`),
    h('p', {}, g.filter ? `Filter: ${JSON.stringify(g.filter)}` : 'Static members'),
    h('ul', { class: 'members', id: 'group-members' }, members.map(a => h('li', {}, onlineBadge(a.online), ' ',
      h('a', { href: `#/agent/${encodeURIComponent(a.id)}` }, a.id))))];
  if (ctx.canWrite) {
    out.push(jobForm(g.id));
    out.push(h('button', { type: 'button', class: 'danger write', onclick: async () => {
      if (!confirm(`Delete group ${g.name || g.id}?`)) return;
      await call('DELETE', `/api/v1/groups/${encodeURIComponent(id)}`);
      location.hash = '#/groups';
    } }, 'Delete group'));
  }
  clear(main, ...out);
}

/**
 * jobForm starts a job over a group: groupID, or one chosen in the form
 * when it is empty; or, when agents() gives a list, over those agents.
 */
export function jobForm(groupID, agents) {
  const pick = groupID || agents ? null : h('select', { id: 'j-group', required: true });
  if (pick) {
    get('/api/v1/groups').then(g => {
      for (const x of listOf(g, 'groups')) pick.appendChild(h('option', { value: x.id }, x.name || x.id));
    }).catch(() => {});
  }
  const kind = h('select', { id: 'j-kind' }, ['get', 'set', 'operate', 'add', 'delete', 'subscribe'].map(k => h('option', { value: k }, k)));
  const name = h('input', { id: 'j-name', required: true, value: `job-${new Date().toISOString().slice(0, 19)}` });
  const path = h('input', { id: 'j-path', required: true, placeholder: 'Device.DeviceInfo.SoftwareVersion', spellcheck: 'false' });
  const value = h('input', { id: 'j-value', placeholder: 'set: the value; operate, add: Name=value, …; subscribe: ValueChange, Event…', spellcheck: 'false' });
  const conc = h('input', { id: 'j-conc', type: 'number', min: 1, max: 1000, value: 10 });
  const err = h('p', { class: 'error', role: 'alert' });
  return h('form', { class: 'card write', id: 'job-form', 'aria-labelledby': 'j-title', onsubmit: async e => {
    e.preventDefault();
    const p = path.value.trim();
    let request;
    switch (kind.value) {
      case 'get': request = { kind: 'get', paths: [p] }; break;
      case 'set': { const i = p.lastIndexOf('.'); request = { kind: 'set', objects: [{ path: p.slice(0, i + 1), params: { [p.slice(i + 1)]: value.value } }] }; break; }
      case 'add': request = { kind: 'add', objects: [{ path: p, params: parseArgs(value.value) }] }; break;
      case 'delete': request = { kind: 'delete', paths: [p] }; break;
      case 'operate': request = { kind: 'operate', command: p, args: parseArgs(value.value) }; break;
      case 'subscribe': request = { kind: 'subscribe', id: name.value, notif_type: value.value || 'ValueChange', reference_list: p }; break;
    }
    try {
      const target = agents ? { agents: agents() } : { group: groupID || pick.value };
      if (agents && !target.agents.length) { err.textContent = 'Select agents in the list first.'; return; }
      const j = await post('/api/v1/jobs', { name: name.value, ...target, request, concurrency: +conc.value || 10 });
      location.hash = `#/job/${encodeURIComponent(j.id)}`;
    } catch (x) { err.textContent = x.message; }
  } }, h('h2', { id: 'j-title' }, agents ? 'Run a job on the selected agents' : groupID ? 'Run a job over this group' : 'Run a job over a group'),
  pick ? [h('label', { for: 'j-group' }, 'Group'), pick] : null,
  h('label', { for: 'j-name' }, 'Job name'), name,
  h('label', { for: 'j-kind' }, 'Request'), kind,
  h('label', { for: 'j-path' }, 'Path or command'), path,
  h('label', { for: 'j-value' }, 'Value or arguments'), value,
  h('label', { for: 'j-conc' }, 'Agents at once'), conc,
  h('button', { type: 'submit', id: 'j-start' }, 'Start job'), err);
}

/** resultOf renders one agent's result: its error, or the response's values. */
function resultOf(r) {
  if (r.code || r.message) return h('span', { class: 'error' }, `${r.code || ''} ${r.message || ''}`);
  if (!r.response) return '';
  const resp = r.response.body?.response || {};
  const params = [];
  for (const x of resp.get_resp?.req_path_results || []) {
    for (const rr of x.resolved_path_results || []) {
      for (const [k, v] of Object.entries(rr.result_params || {})) params.push(`${rr.resolved_path}${k} = ${v}`);
    }
  }
  const text = params.length ? params.join('\n') : JSON.stringify(resp);
  return h('details', {}, h('summary', {}, text.split('\n')[0].slice(0, 80)), h('pre', {}, text));
}

/** parseArgs reads "A=1, B=x" into {A: "1", B: "x"}. */
export function parseArgs(s) {
  const out = {};
  for (const part of s.split(/[,\n]/)) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** counts reads a job's progress whatever the shape of its counters. */
export function counts(j) {
  const c = j.counts || j;
  const num = k => (typeof c[k] === 'number' ? c[k] : 0);
  const ok = num('succeeded'), failed = num('failed'), cancelled = num('cancelled');
  const total = num('total') || ok + failed + cancelled + num('pending') + num('running') + num('offline_waiting');
  return { ok, failed, cancelled, waiting: num('offline_waiting'), total, finished: ok + failed + cancelled };
}

function progress(j, id) {
  const c = counts(j);
  let label = `${c.finished} of ${c.total} done, ${c.failed} failed`;
  if (c.cancelled) label += `, ${c.cancelled} cancelled`;
  if (c.waiting) label += `, ${c.waiting} waiting offline`;
  return h('div', { class: 'progress-row' },
    h('progress', { id, max: Math.max(c.total, 1), value: c.finished, 'aria-label': `Progress of ${j.name || j.id}: ${label}` }),
    h('span', { class: 'progress-text' }, label));
}

export async function jobsPage(main, ctx) {
  let data;
  try { data = await get('/api/v1/jobs'); } catch (e) { if (e instanceof ApiError && e.status === 404) return fleetMissing(main, 'Jobs'); throw e; }
  const box = h('div', { class: 'scroll' });
  const render = d => {
    const jobs = listOf(d, 'jobs');
    clear(box, h('table', { class: 'list', id: 'jobs' },
      h('thead', {}, h('tr', {}, ['Name', 'Kind', 'State', 'Progress'].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, jobs.map(j => h('tr', {},
        h('td', {}, h('a', { href: `#/job/${encodeURIComponent(j.id)}` }, j.name || j.id)),
        h('td', {}, j.kind || ''), h('td', {}, j.state || ''),
        h('td', {}, progress(j, `p-${j.id}`)))))));
  };
  render(data);
  clear(main, h('h1', {}, 'Jobs'), box, ctx.canWrite ? jobForm('') : null);
  // Progress follows the event stream; only the table is drawn again.
  const refresh = debounce(async () => render(await get('/api/v1/jobs')), ctx.signal);
  stream('/api/v1/events/stream', (kind) => {
    if (kind === 'job.progress' || kind === 'job.done') refresh();
  }, ctx.signal);
}

/** debounce returns a function that runs f once, 300 ms after the first of a burst of calls, unless signal aborted. */
function debounce(f, signal) {
  let pending = 0;
  return () => {
    if (pending) return;
    pending = setTimeout(() => { pending = 0; if (!signal.aborted) f(); }, 300);
  };
}

export async function jobPage(main, id, ctx) {
  const render = async () => {
    const j = await get(`/api/v1/jobs/${encodeURIComponent(id)}`);
    const rows = j.results || [];
    const state = j.state || '';
    if (ctx.signal.aborted) return state; // the page was left while reading
    clear(main, h('h1', {}, `Job ${j.name || j.id}`),
      h('p', {}, 'State: ', h('strong', { id: 'job-state' }, state)),
      progress(j, 'job-progress'),
      j.kind === 'campaign' ? h('p', { class: 'muted' }, 'A campaign: usp campaigns shows its waves.') : null,
      ctx.canWrite && state === 'running' ? h('button', { type: 'button', class: 'danger write', onclick: async () => {
        await post(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, {}); render();
      } }, 'Cancel job') : null,
      h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'job-results' },
        h('thead', {}, h('tr', {}, ['Agent', 'State', 'Attempts', 'Result'].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows.map(r => h('tr', {},
          h('td', {}, h('a', { href: `#/agent/${encodeURIComponent(r.agent || r.id)}` }, r.agent || r.id)),
          h('td', {}, r.state || ''), h('td', {}, r.attempts ?? ''),
          h('td', {}, resultOf(r))))))));
    return state;
  };
  let state = await render();
  const refresh = debounce(async () => { state = await render(); }, ctx.signal);
  stream('/api/v1/events/stream', (kind, ev) => {
    if ((kind === 'job.progress' || kind === 'job.done') && ev.msg?.job === id) refresh();
  }, ctx.signal);
  // Events drive the page; a slow poll catches up should the stream miss one.
  const timer = setInterval(async () => { if (state === 'running') state = await render().catch(() => state); }, 5000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer));
  status('');
}
