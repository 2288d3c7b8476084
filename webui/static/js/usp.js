// USP helpers: requests through the API, answers read from protobuf JSON,
// and the TR-106 types of parameters.
import { post as apiPost, agentPath } from './api.js';

/**
 * post sends a USP request through the API. An agent that is offline gets
 * the request queued (HTTP 202); the page says so rather than show nothing.
 */
async function post(path, body) {
  const m = await apiPost(path, body);
  if (m && m.queued) throw new Error('the agent is offline: the request was queued and its answer will come as an event');
  return m;
}

/** supportedPath turns an instantiated path into its supported form. */
export function supportedPath(p) {
  return p.replace(/\.\d+(?=\.)/g, '.{i}').replace(/\.\[[^\]]*\](?=\.)/g, '.{i}');
}

export async function getParams(agent, paths, maxDepth = 0) {
  const m = await post(agentPath(agent, 'get'), { paths, max_depth: maxDepth || undefined });
  const out = [];
  for (const r of m?.body?.response?.get_resp?.req_path_results || []) {
    if (r.err_code) { out.push({ requested: r.requested_path, error: `${r.err_code} ${r.err_msg || ''}` }); continue; }
    for (const rr of r.resolved_path_results || []) {
      for (const [k, v] of Object.entries(rr.result_params || {})) out.push({ requested: r.requested_path, object: rr.resolved_path, name: k, path: rr.resolved_path + k, value: v });
    }
  }
  return out;
}

export async function supported(agent, path, firstLevelOnly = true) {
  const m = await post(agentPath(agent, 'supported'), { paths: [path], first_level_only: firstLevelOnly, commands: true, events: true, params: true, unique_keys: true });
  const objs = [];
  for (const r of m?.body?.response?.get_supported_dm_resp?.req_obj_results || []) {
    if (r.err_code) throw new Error(`${r.err_code} ${r.err_msg || ''}`);
    objs.push(...(r.supported_objs || []));
  }
  return objs;
}

export async function instances(agent, path) {
  const m = await post(agentPath(agent, 'instances'), { paths: [path], first_level_only: true });
  const out = [];
  for (const r of m?.body?.response?.get_instances_resp?.req_path_results || []) {
    if (r.err_code) throw new Error(`${r.err_code} ${r.err_msg || ''}`);
    for (const i of r.curr_insts || []) out.push(i.instantiated_obj_path);
  }
  return out;
}

/** setParam sets one parameter and answers the value the Agent reports. */
export async function setParam(agent, path, value) {
  const i = path.lastIndexOf('.');
  const obj = path.slice(0, i + 1), name = path.slice(i + 1);
  const m = await post(agentPath(agent, 'set'), { objects: [{ path: obj, params: { [name]: value } }] });
  for (const r of m?.body?.response?.set_resp?.updated_obj_results || []) {
    const f = r.oper_status?.oper_failure;
    if (f) throw new Error(`${f.err_code} ${f.err_msg || ''} ${(f.updated_inst_failures || []).flatMap(x => (x.param_errs || []).map(p => `${p.param}: ${p.err_code} ${p.err_msg || ''}`)).join('; ')}`.trim());
  }
  return m;
}

export async function addInstance(agent, table, params) {
  const m = await post(agentPath(agent, 'add'), { objects: [{ path: table, params }] });
  for (const r of m?.body?.response?.add_resp?.created_obj_results || []) {
    const f = r.oper_status?.oper_failure;
    if (f) throw new Error(`${f.err_code} ${f.err_msg || ''}`);
    return r.oper_status?.oper_success?.instantiated_path;
  }
  return '';
}

export async function deleteInstance(agent, path) {
  const m = await post(agentPath(agent, 'delete'), { paths: [path] });
  for (const r of m?.body?.response?.delete_resp?.deleted_obj_results || []) {
    const f = r.oper_status?.oper_failure;
    if (f) throw new Error(`${f.err_code} ${f.err_msg || ''}`);
  }
}

/** operate runs a command; answers {output} for a synchronous one, {request} for an asynchronous one. */
export async function operate(agent, command, commandKey, args) {
  const m = await post(agentPath(agent, 'operate') + '?timeout=60s', { command, command_key: commandKey, args });
  for (const r of m?.body?.response?.operate_resp?.operation_results || []) {
    if (r.cmd_failure) throw new Error(`${r.cmd_failure.err_code} ${r.cmd_failure.err_msg || ''}`);
    if (r.req_obj_path) return { request: r.req_obj_path };
    return { output: r.req_output_args?.output_args || {} };
  }
  return { output: {} };
}

const U32 = 4294967295n, I32 = 2147483647n, I64 = 9223372036854775807n, U64 = 18446744073709551615n;

/** typeName shortens PARAM_UNSIGNED_INT to unsignedInt. */
export function typeName(t) {
  return ({ PARAM_BASE_64: 'base64', PARAM_BOOLEAN: 'boolean', PARAM_DATE_TIME: 'dateTime', PARAM_DECIMAL: 'decimal',
    PARAM_HEX_BINARY: 'hexBinary', PARAM_INT: 'int', PARAM_LONG: 'long', PARAM_STRING: 'string', PARAM_UNSIGNED_INT: 'unsignedInt',
    PARAM_UNSIGNED_LONG: 'unsignedLong' })[t] || 'string';
}

export function accessName(a) {
  return ({ PARAM_READ_ONLY: 'read-only', PARAM_READ_WRITE: 'read-write', PARAM_WRITE_ONLY: 'write-only',
    OBJ_READ_ONLY: 'read-only', OBJ_ADD_DELETE: 'add/delete', OBJ_ADD_ONLY: 'add only', OBJ_DELETE_ONLY: 'delete only' })[a] || 'read-only';
}

function inRange(s, lo, hi) {
  try { const n = BigInt(s); return n >= lo && n <= hi; } catch { return false; }
}

/** checkValue answers '' when value is a valid value of the type, else why not. */
export function checkValue(type, value) {
  switch (type) {
    case 'boolean': return /^(true|false|1|0)$/.test(value) ? '' : 'a boolean is true or false';
    case 'int': return /^-?\d+$/.test(value) && inRange(value, -I32 - 1n, I32) ? '' : 'an int is a whole number from -2147483648 to 2147483647';
    case 'long': return /^-?\d+$/.test(value) && inRange(value, -I64 - 1n, I64) ? '' : 'a long is a whole number of 64 bits';
    case 'unsignedInt': return /^\d+$/.test(value) && inRange(value, 0n, U32) ? '' : 'an unsignedInt is a whole number from 0 to 4294967295';
    case 'unsignedLong': return /^\d+$/.test(value) && inRange(value, 0n, U64) ? '' : 'an unsignedLong is a whole number from 0 to 18446744073709551615';
    case 'decimal': return /^-?\d+(\.\d+)?$/.test(value) ? '' : 'a decimal is a number such as 1.5';
    case 'dateTime': {
      const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.test(value) && !isNaN(Date.parse(value.replace(/(\.\d{3})\d+/, '$1')));
      return ok ? '' : 'a dateTime is such as 2026-01-31T12:00:00Z';
    }
    case 'hexBinary': return /^([0-9a-fA-F]{2})*$/.test(value) ? '' : 'hexBinary is pairs of hex digits';
    case 'base64': return /^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0 ? '' : 'not base64';
    default: return '';
  }
}

/** notifyOf reads the Notify of an event's Msg, if any. */
export function notifyOf(ev) {
  return ev?.msg?.body?.request?.notify || null;
}

/** describeEvent renders an event on one line. */
export function describeEvent(ev) {
  const n = notifyOf(ev);
  if (ev.kind === 'gap') return `${ev.missed} events missed: no longer kept by the controller`;
  if (ev.kind?.startsWith('job.') && ev.msg) {
    const c = ev.msg.counts || {};
    return `job ${ev.msg.job} ${ev.msg.state || ''}${ev.msg.result ? ` (${ev.msg.result})` : ''}: ${(c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0)} of ${c.total || 0} done`;
  }
  if (!n) return ev.kind === 'response' ? `late response ${ev.msg_id || ''}` : ev.kind;
  if (n.value_change) return `ValueChange ${n.value_change.param_path} = ${n.value_change.param_value}`;
  if (n.obj_creation) return `ObjectCreation ${n.obj_creation.obj_path}`;
  if (n.obj_deletion) return `ObjectDeletion ${n.obj_deletion.obj_path}`;
  if (n.oper_complete) {
    const o = n.oper_complete;
    const res = o.cmd_failure ? `failed ${o.cmd_failure.err_code} ${o.cmd_failure.err_msg || ''}` : JSON.stringify(o.req_output_args?.output_args || {});
    return `OperationComplete ${o.obj_path}${o.command_name} [${o.command_key}] ${res}`;
  }
  if (n.event) return `Event ${n.event.obj_path}${n.event.event_name} ${JSON.stringify(n.event.params || {})}`;
  if (n.on_board_req) return `OnBoardRequest ${n.on_board_req.product_class || ''}`;
  return 'Notify';
}
