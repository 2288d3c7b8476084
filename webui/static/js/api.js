// The REST API, called with the token kept in sessionStorage.

const KEY = 'uspkit.token';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY); }

/** ApiError carries the HTTP status and the API's error body. */
export class ApiError extends Error {
  constructor(status, body) {
    let msg = (body && body.error) || `HTTP ${status}`;
    if (body && body.code) msg += ` ${body.code}: ${body.message || ''}`;
    super(msg);
    this.status = status;
    this.body = body;
  }
}

/** call sends one API request and answers the decoded JSON body. */
export async function call(method, path, body, opts = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: opts.signal });
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: text.trim() }; }
  }
  if (!resp.ok && !(opts.accept || []).includes(resp.status)) {
    if (resp.status === 401 && opts.onUnauthorized !== false) window.dispatchEvent(new CustomEvent('uspkit-unauthorized'));
    throw new ApiError(resp.status, data);
  }
  return data;
}

export const get = (p, o) => call('GET', p, undefined, o);
export const post = (p, b, o) => call('POST', p, b, o);

/** agentPath builds /api/v1/agents/{id}/… with the ID escaped. */
export function agentPath(id, rest = '') {
  return `/api/v1/agents/${encodeURIComponent(id)}${rest ? '/' + rest : ''}`;
}

/**
 * stream reads the Server-Sent Events of path with the token (EventSource
 * cannot send one) and calls onEvent(kind, data) for each event until the
 * signal aborts. It reconnects after an error, waiting a little longer
 * each time (at most 30 s).
 */
export async function stream(path, onEvent, signal, onState = () => {}) {
  let wait = 1000;
  let last = '';
  while (!signal.aborted) {
    try {
      const url = last ? `${path}${path.includes('?') ? '&' : '?'}after=${last}` : path;
      const resp = await fetch(url, { headers: { Authorization: `Bearer ${token()}`, Accept: 'text/event-stream' }, signal });
      if (!resp.ok) throw new ApiError(resp.status, null);
      onState('open');
      wait = 1000;
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let kind = 'message', data = '', id = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) kind = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
            else if (line.startsWith('id: ')) id = line.slice(4);
          }
          if (id) last = id;
          if (!data) continue;
          try { onEvent(kind, JSON.parse(data)); } catch (e) { console.warn('event', e); }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      onState('error', e);
    }
    if (signal.aborted) return;
    await new Promise(r => setTimeout(r, wait));
    wait = Math.min(wait * 2, 30000);
  }
}
