// One agent: identity, data-model browser, commands, subscriptions, live
// events, the raw exchange and its Bulk Data charts.
import { h, clear, fmtTime, ago, status } from './dom.js';
import { get, call, agentPath } from './api.js';
import * as usp from './usp.js';
import { modelOf, versionOf, parseArgs } from './fleet.js';
import { telemetryChart } from './charts.js';
import { eventList } from './events.js';

export async function agentPage(main, id, ctx) {
  const a = await get(agentPath(id));
  // ops: callbacks waiting for an OperationComplete, by command key;
  // completed: those that arrived (one may come before its OperateResp).
  const page = { id, ctx, online: a.online, supported: new Map(), ops: new Map(), completed: new Map() };
  const events = h('section', { 'aria-labelledby': 'h-events' });
  const dm = h('section', { 'aria-labelledby': 'h-dm' });
  const subs = h('section', { 'aria-labelledby': 'h-subs' });
  const xchg = h('section', { 'aria-labelledby': 'h-xchg' });
  const tel = h('section', { 'aria-labelledby': 'h-tel' });
  clear(main,
    h('h1', {}, h('span', { class: 'muted' }, 'Agent '), h('span', { id: 'agent-id' }, a.id), ' ', h('span', { class: `badge ${a.online ? 'on' : 'off'}`, id: 'agent-state' }, a.online ? 'online' : 'offline')),
    h('nav', { class: 'toc', 'aria-label': 'Sections' }, [['identity', 'Identity'], ['dm', 'Data model'], ['subs', 'Subscriptions'], ['events', 'Live events'], ['xchg', 'Exchange'], ['tel', 'Telemetry']]
      .map(([k, l]) => h('a', { href: `#/agent/${encodeURIComponent(id)}`, onclick: e => { e.preventDefault(); document.getElementById(`h-${k}`)?.scrollIntoView(); document.getElementById(`h-${k}`)?.focus(); } }, l))),
    identity(a, ctx),
    dm, subs, events, xchg, tel);
  liveEvents(events, page);
  dataModel(dm, page);
  subscriptions(subs, page);
  exchange(xchg, page);
  clear(tel, h('h2', { id: 'h-tel', tabindex: -1 }, 'Telemetry (Bulk Data)'), h('div', { id: 'telemetry' }));
  telemetryChart(tel.lastChild, id);
}

function identity(a, ctx) {
  const info = Object.entries(a.device_info || {}).sort();
  return h('section', { 'aria-labelledby': 'h-identity' }, h('h2', { id: 'h-identity', tabindex: -1 }, 'Identity'),
    h('dl', { class: 'kv', id: 'identity' },
      h('dt', {}, 'Endpoint ID'), h('dd', {}, a.id),
      h('dt', {}, 'Model'), h('dd', {}, modelOf(a) || '—'),
      h('dt', {}, 'Version'), h('dd', {}, versionOf(a) || '—'),
      h('dt', {}, 'MTP'), h('dd', { id: 'agent-mtp' }, `${a.mtp || '—'}${a.mtp_name && a.mtp_name !== a.mtp ? ` (${a.mtp_name})` : ''} ${a.address || ''}`),
      h('dt', {}, 'Routes'), h('dd', {}, (a.routes || []).map(r => `${r.mtp} ${r.address}`).join(', ') || '—'),
      h('dt', {}, 'Identity'), h('dd', {}, a.trust || '—'),
      h('dt', {}, 'Last contact'), h('dd', { title: fmtTime(a.last_seen) }, ago(a.last_seen)),
      h('dt', {}, 'Tags'), h('dd', { id: 'agent-tags' }, ctx.canWrite ? tagsEditor(a) : (a.tags || []).join(', ') || '—'),
      info.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
}

/** tagsEditor edits an agent's tags (PUT /api/v1/agents/{id}/tags). */
function tagsEditor(a) {
  const input = h('input', { id: 'tags-input', value: (a.tags || []).join(', '), spellcheck: 'false', 'aria-label': 'Tags, separated by commas' });
  const msg = h('span', { class: 'muted', role: 'status' });
  return h('form', { class: 'inline write', onsubmit: async e => {
    e.preventDefault();
    const tags = input.value.split(',').map(t => t.trim()).filter(Boolean);
    try {
      const out = await call('PUT', agentPath(a.id, 'tags'), { tags });
      input.value = (out.tags || []).join(', ');
      msg.textContent = 'saved';
    } catch (x) { msg.textContent = x.message; }
  } }, input, h('button', { type: 'submit', id: 'tags-save' }, 'Save tags'), msg);
}

// ---- data model ----

function dataModel(sec, page) {
  const { ctx } = page;
  const head = h('h2', { id: 'h-dm', tabindex: -1 }, 'Data model');
  // A viewer reads (Get, GetInstances, GetSupportedDM) but changes nothing;
  // the API refuses it the objects holding credentials.
  const note = ctx.canWrite ? null : h('p', { class: 'note', id: 'dm-viewer' }, 'Read only: objects holding credentials need the operator role.');
  const pathIn = h('input', { id: 'dm-path', type: 'text', spellcheck: 'false', placeholder: 'Device.LocalAgent.Controller.*.EndpointID', autocomplete: 'off' });
  const results = h('div', { id: 'dm-results', class: 'scroll' });
  const form = h('form', { class: 'row', role: 'search', 'aria-label': 'Read any path', onsubmit: async e => {
    e.preventDefault();
    const p = pathIn.value.trim();
    if (!p) return;
    clear(results, h('p', {}, 'Reading…'));
    try {
      const rows = await usp.getParams(page.id, [p]);
      clear(results, paramTable(page, rows.map(r => ({ path: r.path, name: r.path, value: r.value, error: r.error })), true));
    } catch (x) { clear(results, h('p', { class: 'error', role: 'alert' }, x.message)); }
  } }, h('label', { for: 'dm-path' }, 'Path or search expression'), pathIn, h('button', { type: 'submit', id: 'dm-get' }, 'Get'));
  const tree = h('ul', { class: 'tree', id: 'dm-tree', 'aria-label': 'Data model tree' });
  const detail = h('div', { class: 'detail', id: 'dm-detail', 'aria-live': 'polite' }, h('p', { class: 'note' }, 'Choose an object in the tree.'));
  page.detail = detail;
  clear(sec, head, note, form, results, h('div', { class: 'dm' }, h('div', { class: 'tree-box' }, tree), detail));
  tree.appendChild(node(page, 'Device.', 'Device.', false));
  tree.addEventListener('keydown', treeKeys);
}

/**
 * treeKeys moves through the tree with the arrow keys: up and down to the
 * previous and next object shown, right to expand, left to collapse or go
 * to the parent; Enter or Space opens (the button's own behaviour).
 */
function treeKeys(e) {
  const cur = e.target.closest('li');
  if (!cur || !['ArrowDown', 'ArrowUp', 'ArrowRight', 'ArrowLeft', 'Home', 'End'].includes(e.key)) return;
  e.preventDefault();
  const nodes = [...e.currentTarget.querySelectorAll('.node')].filter(n => n.offsetParent !== null);
  const self = cur.querySelector(':scope > .node');
  const twisty = cur.querySelector(':scope > .twisty');
  const i = nodes.indexOf(self);
  const open = twisty.getAttribute('aria-expanded') === 'true';
  switch (e.key) {
    case 'ArrowDown': nodes[Math.min(i + 1, nodes.length - 1)]?.focus(); break;
    case 'ArrowUp': nodes[Math.max(i - 1, 0)]?.focus(); break;
    case 'Home': nodes[0]?.focus(); break;
    case 'End': nodes[nodes.length - 1]?.focus(); break;
    case 'ArrowRight': if (!open) twisty.click(); else nodes[i + 1]?.focus(); break;
    case 'ArrowLeft':
      if (open) twisty.click();
      else cur.parentElement.closest('li')?.querySelector(':scope > .node')?.focus();
      break;
  }
}

/** objInfo reads (once) the supported object of a path and its children. */
async function objInfo(page, path) {
  const sp = usp.supportedPath(path);
  if (!page.supported.has(sp)) page.supported.set(sp, usp.supported(page.id, sp, true));
  const objs = await page.supported.get(sp);
  const self = objs.find(o => o.supported_obj_path === sp) || {};
  const children = objs.filter(o => o.supported_obj_path !== sp && o.supported_obj_path.startsWith(sp))
    .map(o => ({ rel: o.supported_obj_path.slice(sp.length), obj: o }))
    .filter(c => /^[^.]+\.(\{i\}\.)?$/.test(c.rel));
  return { self, children };
}

/** tableInfo reads the supported object of a table's rows (access, keys). */
async function tableInfo(page, table) {
  const sp = usp.supportedPath(table);
  const parent = sp.replace(/[^.]+\.$/, '');
  const { children } = await objInfo(page, parent || 'Device.');
  return children.find(c => parent + c.rel === sp + '{i}.')?.obj || {};
}

/** node is a tree item: an object (path ends with a number or a name) or a table. */
function node(page, path, label, isTable) {
  const kids = h('ul', { role: 'group', hidden: true });
  const twisty = h('button', { type: 'button', class: 'twisty', 'aria-expanded': 'false', 'aria-label': `Expand ${path}` }, '▸');
  const name = h('button', { type: 'button', class: 'node', dataset: { path }, 'aria-label': `Open ${path}` }, label);
  let loaded = false;
  const expand = async (open) => {
    const want = open ?? twisty.getAttribute('aria-expanded') !== 'true';
    twisty.setAttribute('aria-expanded', String(want));
    twisty.textContent = want ? '▾' : '▸';
    kids.hidden = !want;
    if (!want || loaded) return;
    loaded = true;
    clear(kids, h('li', { class: 'muted' }, 'loading…'));
    try {
      if (isTable) {
        const insts = await usp.instances(page.id, path);
        clear(kids, insts.map(p => node(page, p, p.slice(path.length).replace(/\.$/, ''), false)));
        if (!insts.length) clear(kids, h('li', { class: 'muted' }, 'no instances'));
      } else {
        const { children } = await objInfo(page, path);
        clear(kids, children.map(c => {
          const multi = c.rel.endsWith('{i}.');
          const n = c.rel.replace(/\{i\}\.$/, '');
          return node(page, path + n, multi ? n.replace(/\.$/, '') + ' (table)' : n.replace(/\.$/, ''), multi);
        }));
        if (!children.length) clear(kids, h('li', { class: 'muted' }, 'no child objects'));
      }
    } catch (e) {
      loaded = false;
      clear(kids, h('li', { class: 'error' }, e.message));
    }
  };
  twisty.addEventListener('click', () => expand());
  name.addEventListener('click', async () => {
    for (const x of document.querySelectorAll('.tree .node[aria-current]')) x.removeAttribute('aria-current');
    name.setAttribute('aria-current', 'true');
    expand(true);
    await (isTable ? showTable(page, path) : showObject(page, path));
  });
  const li = h('li', {}, twisty, name, kids);
  li.reload = () => { loaded = false; if (twisty.getAttribute('aria-expanded') === 'true') { twisty.setAttribute('aria-expanded', 'false'); expand(true); } };
  return li;
}

async function showObject(page, path) {
  const d = page.detail;
  page.showing = path;
  clear(d, h('h3', {}, path), h('p', {}, 'Reading…'));
  try {
    const [{ self }, values] = await Promise.all([objInfo(page, path), usp.getParams(page.id, [path], 1)]);
    if (page.showing !== path) return; // another object was chosen meanwhile
    const byName = new Map(values.filter(v => v.object === path).map(v => [v.name, v.value]));
    const params = (self.supported_params || []).map(p => ({ path: path + p.param_name, name: p.param_name, type: usp.typeName(p.value_type),
      access: p.access || 'PARAM_READ_ONLY', value: byName.get(p.param_name) }));
    const out = [h('h3', { id: 'dm-object' }, path)];
    const inTable = /\.\d+\.$/.test(path);
    if (inTable && page.ctx.canWrite) {
      const t = await tableInfo(page, path.replace(/\d+\.$/, ''));
      if (t.access === 'OBJ_ADD_DELETE' || t.access === 'OBJ_DELETE_ONLY') {
        out.push(h('button', { type: 'button', class: 'danger write', id: 'dm-delete', onclick: async () => {
          if (!confirm(`Delete ${path}?`)) return;
          try { await usp.deleteInstance(page.id, path); status(`Deleted ${path}`); clear(d, h('p', {}, `${path} deleted.`)); refreshTree(path.replace(/\d+\.$/, '')); } catch (e) { status(e.message, 'error'); }
        } }, `Delete ${path}`));
      }
    }
    out.push(h('h4', {}, 'Parameters'), params.length ? paramTable(page, params, false) : h('p', { class: 'muted' }, 'none'));
    if ((self.supported_commands || []).length) {
      out.push(h('h4', {}, 'Commands'), h('ul', { class: 'commands' }, self.supported_commands.map(c => commandItem(page, path, c))));
    }
    if ((self.supported_events || []).length) {
      out.push(h('h4', {}, 'Events'), h('ul', {}, self.supported_events.map(e => h('li', {}, e.event_name, (e.arg_names || []).length ? h('span', { class: 'muted' }, ` (${e.arg_names.join(', ')})`) : null))));
    }
    if (page.showing === path) clear(d, ...out);
  } catch (e) {
    if (page.showing === path) clear(d, h('h3', {}, path), h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

function refreshTree(table) {
  const b = document.querySelector(`.tree .node[data-path="${CSS.escape(table)}"]`);
  b?.parentElement?.reload?.();
}

async function showTable(page, path) {
  const d = page.detail;
  page.showing = path;
  clear(d, h('h3', {}, path), h('p', {}, 'Reading…'));
  try {
    const [t, insts] = await Promise.all([tableInfo(page, path), usp.instances(page.id, path)]);
    if (page.showing !== path) return;
    const out = [h('h3', { id: 'dm-object' }, path), h('p', {}, `Table, ${usp.accessName(t.access)}; unique keys: `,
      (t.unique_key_sets || []).map(k => (k.key_names || []).join('+')).join(', ') || '—'),
    h('ul', { id: 'dm-instances' }, insts.map(p => h('li', {}, h('code', {}, p))))];
    if (page.ctx.canWrite && (t.access === 'OBJ_ADD_DELETE' || t.access === 'OBJ_ADD_ONLY')) {
      const ta = h('textarea', { id: 'dm-add-params', rows: 3, spellcheck: 'false', placeholder: 'Name=value, one a line' });
      const err = h('p', { class: 'error', role: 'alert' });
      out.push(h('form', { class: 'card write', 'aria-labelledby': 'dm-add-title', onsubmit: async e => {
        e.preventDefault();
        try {
          const p = await usp.addInstance(page.id, path, parseArgs(ta.value));
          status(`Added ${p}`);
          refreshTree(path);
          showTable(page, path);
        } catch (x) { err.textContent = x.message; }
      } }, h('h4', { id: 'dm-add-title' }, 'Add an instance'), h('label', { for: 'dm-add-params' }, 'Parameters'), ta,
      h('button', { type: 'submit', id: 'dm-add' }, 'Add instance'), err));
    }
    clear(d, ...out);
  } catch (e) {
    clear(d, h('h3', {}, path), h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

/** paramTable lists parameters; writable ones get an Edit button, all a Watch button. */
function paramTable(page, rows, lookup) {
  return h('table', { class: 'list params' },
    h('thead', {}, h('tr', {}, ['Parameter', 'Type', 'Access', 'Value', ''].map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map(r => {
      const value = h('td', { class: 'value', dataset: { path: r.path } }, r.error ? h('span', { class: 'error' }, r.error) : (r.value ?? ''));
      const type = h('td', {}, r.type || (lookup ? '' : 'string'));
      const access = h('td', {}, r.access ? usp.accessName(r.access) : '');
      const actions = h('td', { class: 'actions' });
      const tr = h('tr', {}, h('th', { scope: 'row' }, h('code', {}, r.name)), type, access, value, actions);
      if (page.ctx.canWrite && !r.error) {
        const edit = h('button', { type: 'button', class: 'write', 'aria-label': `Edit ${r.path}`, onclick: async () => {
          let { type: t, access: acc } = r;
          if (!acc) {
            try {
              const obj = r.path.slice(0, r.path.lastIndexOf('.') + 1);
              const { self } = await objInfo(page, obj);
              const p = (self.supported_params || []).find(x => x.param_name === r.path.slice(obj.length)) || {};
              t = usp.typeName(p.value_type); acc = p.access || 'PARAM_READ_ONLY';
              type.textContent = t; access.textContent = usp.accessName(acc);
            } catch (e) { status(e.message, 'error'); return; }
          }
          if (acc === 'PARAM_READ_ONLY') { status(`${r.path} is read-only`, 'error'); return; }
          editor(page, r.path, t, value);
        } }, 'Edit');
        if (!r.access || r.access !== 'PARAM_READ_ONLY') actions.appendChild(edit);
        actions.appendChild(h('button', { type: 'button', class: 'write', 'aria-label': `Watch ${r.path} for value changes`, onclick: () => watch(page, r.path) }, 'Watch'));
      }
      return tr;
    })));
}

/** editor replaces a value cell by an input checked against the parameter's type. */
function editor(page, path, type, cell) {
  const old = cell.textContent;
  const id = `edit-${Math.random().toString(36).slice(2)}`;
  const input = type === 'boolean'
    ? h('select', { id, 'aria-label': `New value of ${path} (boolean)` }, h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'))
    : h('input', { id, value: old, spellcheck: 'false', 'aria-label': `New value of ${path} (${type})`, inputmode: /int|long/i.test(type) ? 'numeric' : undefined });
  if (type === 'boolean') input.value = /^(true|1)$/.test(old) ? 'true' : 'false';
  const msg = h('span', { class: 'error', id: `${id}-msg`, role: 'alert' });
  input.setAttribute('aria-describedby', `${id}-msg`);
  const check = () => {
    const why = usp.checkValue(type, input.value);
    msg.textContent = why;
    input.setAttribute('aria-invalid', why ? 'true' : 'false');
    return !why;
  };
  input.addEventListener('input', check);
  const form = h('form', { class: 'inline', onsubmit: async e => {
    e.preventDefault();
    if (!check()) { input.focus(); return; }
    try {
      await usp.setParam(page.id, path, input.value);
      const back = await usp.getParams(page.id, [path]);
      clear(cell, back[0]?.value ?? '');
      cell.dataset.saved = 'true';
      status(`${path} = ${back[0]?.value ?? ''}`);
    } catch (x) { msg.textContent = x.message; }
  }, onkeydown: e => { if (e.key === 'Escape') clear(cell, old); } },
  input, h('button', { type: 'submit', 'aria-label': `Save ${path}` }, 'Save'),
  h('button', { type: 'button', 'aria-label': 'Cancel', onclick: () => clear(cell, old) }, 'Cancel'), h('span', { class: 'muted' }, ` ${type}`), msg);
  clear(cell, form);
  input.focus();
}

/** watch adds a ValueChange subscription for one parameter. */
async function watch(page, path) {
  try {
    const idv = `webui-${Date.now().toString(36)}`;
    const p = await usp.addInstance(page.id, 'Device.LocalAgent.Subscription.', { ID: idv, NotifType: 'ValueChange', ReferenceList: path, Enable: 'true' });
    status(`Watching ${path} (${p}); its changes appear under Live events.`);
    page.reloadSubs?.();
  } catch (e) { status(`Watch ${path}: ${e.message}`, 'error'); }
}

function commandItem(page, obj, c) {
  const full = obj + c.command_name;
  const async_ = c.command_type === 'CMD_ASYNC';
  const li = h('li', {}, h('code', {}, c.command_name), h('span', { class: 'muted' }, async_ ? ' asynchronous' : ' synchronous'));
  if (!page.ctx.canWrite) return li;
  const out = h('div', { class: 'op-result', 'aria-live': 'polite' });
  const inputs = (c.input_arg_names || []).map(n => {
    const id = `arg-${Math.random().toString(36).slice(2)}`;
    return { n, el: h('input', { id, name: n, spellcheck: 'false' }), label: h('label', { for: id }, n) };
  });
  const key = h('input', { id: `key-${full}`, value: `webui-${Date.now().toString(36)}` });
  const form = h('form', { class: 'card write command', hidden: true, 'aria-label': `Run ${full}`, onsubmit: async e => {
    e.preventDefault();
    const args = {};
    for (const i of inputs) if (i.el.value !== '') args[i.n] = i.el.value;
    clear(out, 'Running…');
    try {
      const r = await usp.operate(page.id, full, key.value, args);
      if (r.request) {
        clear(out, h('p', { class: 'running' }, `Started (${r.request}); waiting for its OperationComplete…`));
        const done = n => clear(out, opResult(full, n));
        if (page.completed.has(key.value)) done(page.completed.get(key.value)); else page.ops.set(key.value, done);
        key.value = `webui-${Date.now().toString(36)}`;
      } else {
        clear(out, h('p', {}, 'Done.'), outputTable(r.output));
      }
    } catch (x) { clear(out, h('p', { class: 'error', role: 'alert' }, x.message)); }
  } }, inputs.map(i => h('div', { class: 'field' }, i.label, i.el)),
  h('div', { class: 'field' }, h('label', { for: `key-${full}` }, 'Command key'), key),
  h('button', { type: 'submit', 'aria-label': `Run ${full} now` }, 'Run'));
  const open = h('button', { type: 'button', class: 'write', 'aria-expanded': 'false', 'aria-label': `Run ${full}…`, onclick: () => {
    form.hidden = !form.hidden;
    open.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) (inputs[0]?.el || key).focus();
  } }, 'Run…');
  li.append(' ', open, form, out);
  return li;
}

function opResult(cmd, oc) {
  if (oc.cmd_failure) return h('p', { class: 'error op-done' }, `${cmd} failed: ${oc.cmd_failure.err_code} ${oc.cmd_failure.err_msg || ''}`);
  return h('div', { class: 'op-done' }, h('p', {}, `${cmd} complete.`), outputTable(oc.req_output_args?.output_args || {}));
}

function outputTable(args) {
  const rows = Object.entries(args || {}).sort();
  if (!rows.length) return h('p', { class: 'muted' }, 'No output arguments.');
  return h('table', { class: 'list output' }, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v)))));
}

// ---- subscriptions ----

function subscriptions(sec, page) {
  const head = h('h2', { id: 'h-subs', tabindex: -1 }, 'Subscriptions');
  if (!page.ctx.canWrite) {
    clear(sec, head, h('p', { class: 'note' }, 'Reading the agent\'s subscriptions needs the operator role.'));
    return;
  }
  const body = h('div', { class: 'scroll', id: 'subs' });
  const reload = async () => {
    try {
      const rows = await usp.getParams(page.id, ['Device.LocalAgent.Subscription.'], 0);
      const byObj = new Map();
      for (const r of rows) { if (!r.object) continue; if (!byObj.has(r.object)) byObj.set(r.object, {}); byObj.get(r.object)[r.name] = r.value; }
      clear(body, byObj.size ? h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['Path', 'ID', 'Type', 'Reference', 'Enabled', 'Recipient', ''].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, [...byObj].map(([p, s]) => h('tr', {}, h('td', {}, h('code', {}, p)), h('td', {}, s.ID), h('td', {}, s.NotifType), h('td', {}, s.ReferenceList),
          h('td', {}, s.Enable), h('td', {}, s.Recipient),
          h('td', {}, h('button', { type: 'button', class: 'danger write', 'aria-label': `Delete subscription ${s.ID}`, onclick: async () => {
            try { await usp.deleteInstance(page.id, p); reload(); } catch (e) { status(e.message, 'error'); }
          } }, 'Delete')))))) : h('p', { class: 'muted' }, 'No subscriptions.'));
    } catch (e) { clear(body, h('p', { class: 'error' }, e.message)); }
  };
  page.reloadSubs = reload;
  clear(sec, head, h('button', { type: 'button', onclick: reload, 'aria-label': 'Reload subscriptions' }, 'Reload'), body);
  // A request to an offline agent would be queued: read only when asked.
  if (page.online) reload(); else clear(body, h('p', { class: 'note' }, 'The agent is offline; Reload queues a Get for when it comes back.'));
}

// ---- live events ----

function liveEvents(sec, page) {
  eventList(sec, {
    path: `/api/v1/events/stream?agent=${encodeURIComponent(page.id)}`, signal: page.ctx.signal,
    title: h('h2', { id: 'h-events', tabindex: -1 }, 'Live events'),
    onEvent: ev => {
      // An OperationComplete goes to the command's form waiting for it.
      const oc = usp.notifyOf(ev)?.oper_complete;
      if (!oc) return;
      page.completed.set(oc.command_key, oc);
      if (page.completed.size > 100) page.completed.delete(page.completed.keys().next().value);
      if (page.ops.has(oc.command_key)) { page.ops.get(oc.command_key)(oc); page.ops.delete(oc.command_key); }
    },
  });
}

// ---- raw exchange ----

function exchange(sec, page) {
  const body = h('div', { id: 'exchange' });
  const load = async () => {
    try {
      const d = await get(`${agentPath(page.id, 'exchange')}?n=50`);
      clear(body, (d.records || []).length ? h('ol', { class: 'exchange' }, d.records.map(r => {
        const msg = r.record?.no_session_context?.payload || r.record?.session_context || r.record;
        const type = msg?.header?.msg_type || Object.keys(r.record || {}).find(k => k.endsWith('connect')) || '';
        return h('li', {}, h('details', {}, h('summary', {}, `${new Date(r.time).toLocaleTimeString()} ${r.direction === 'sent' ? '→ sent' : '← received'} ${type} ${r.size} bytes ${r.mtp ? 'over ' + r.mtp : ''}`),
          h('pre', {}, r.error ? r.error : JSON.stringify(r.record, null, 2))));
      })) : h('p', { class: 'muted' }, 'No Records kept for this agent.'));
    } catch (e) { clear(body, h('p', { class: 'error' }, e.message)); }
  };
  clear(sec, h('h2', { id: 'h-xchg', tabindex: -1 }, 'Raw exchange'), h('p', { class: 'muted' }, 'The last USP Records sent to and received from this agent, newest first.'),
    h('button', { type: 'button', id: 'exchange-load', onclick: load }, 'Load the exchange'), body);
}
