// A live list of events from the API's event stream, with a pause button.
import { h, clear } from './dom.js';
import { stream } from './api.js';
import { describeEvent } from './usp.js';

/**
 * eventList fills sec with a heading, a pause button and the events of
 * path (an /api/v1/events/stream URL) as they come, newest first (at most
 * 200 kept). onEvent sees every event, paused or not. With showAgent each
 * line links to its agent.
 */
export function eventList(sec, { path, signal, title, showAgent = false, onEvent = () => {} }) {
  let paused = false;
  const held = [];
  const list = h('ol', { class: 'events', id: 'events', reversed: true });
  const state = h('span', { class: 'muted', id: 'events-state' }, 'connecting…');
  const show = ev => {
    list.prepend(h('li', { dataset: { kind: ev.kind } }, h('time', { datetime: ev.time }, new Date(ev.time).toLocaleTimeString()), ' ',
      showAgent && ev.agent ? [h('a', { href: `#/agent/${encodeURIComponent(ev.agent)}` }, ev.agent), ' '] : null,
      h('span', { class: `kind k-${ev.kind}` }, ev.kind), ' ', describeEvent(ev)));
    while (list.children.length > 200) list.lastChild.remove();
  };
  const pause = h('button', { type: 'button', id: 'events-pause', 'aria-pressed': 'false', onclick: () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) { for (const e of held.splice(0)) show(e); }
    state.textContent = paused ? 'paused' : 'live';
  } }, 'Pause');
  clear(sec, title, h('div', { class: 'row' }, pause, state), list);
  stream(path, (kind, ev) => {
    onEvent(ev);
    if (paused) {
      held.push(ev);
      if (held.length > 1000) held.shift();
      state.textContent = `paused (${held.length} waiting)`;
    } else show(ev);
  }, signal, (s, e) => { if (!paused) state.textContent = s === 'open' ? 'live' : `reconnecting (${e?.message || s})`; });
}

/** eventsPage shows the events of the whole fleet as they come. */
export async function eventsPage(main, ctx) {
  const sec = h('section', {});
  clear(main, sec);
  eventList(sec, { path: '/api/v1/events/stream', signal: ctx.signal, showAgent: true, title: h('h1', {}, 'Live events') });
}
