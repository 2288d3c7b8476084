'use strict';
// usp-js (npm, version pinned in package.json) as a USP Controller driving
// a uspkit Agent: Get, Set, Add, GetInstances, Delete, GetSupportedDM,
// GetSupportedProtocol, a ValueChange subscription, and synchronous and
// asynchronous Operate. It prints one JSON line per step,
// {"step": name, "ok": bool, "detail": ...}, and exits non-zero when any
// step fails. usp-js builds and parses every Record and Msg; over the
// WebSocket MTP the client of uspws.js carries them.
//
// Configuration, from the environment:
//   USPJS_MTP               "mqtt" or "websocket"
//   USPJS_AGENT_ID          the Agent's Endpoint ID (to_id)
//   USPJS_CONTROLLER_ID     this Controller's Endpoint ID (from_id)
//   USPJS_SOFTWARE_VERSION  the Agent's expected SoftwareVersion
//   USPJS_MQTT_HOST, USPJS_MQTT_PORT, USPJS_MQTT_VERSION ("3.1.1" or "5"),
//   USPJS_MQTT_USERNAME, USPJS_MQTT_PASSWORD (optional),
//   USPJS_AGENT_TOPIC, USPJS_CONTROLLER_TOPIC
//   USPJS_WS_URL            ws://host:port/path of the Agent
//   USPJS_WS_EID            "query", "extension" or "both"
//   USPJS_TRACE=1           every Record sent and received, decoded, on stderr
//   USPJS_TIMEOUT_MS        the whole run's limit (default 120000)

const uspjs = require('usp-js');
const { decodeId } = require('usp-js/node/commands');
const { connectClient: mqttConnectClient, loadProtobuf } = require('usp-js/node/configurations/mqtt');
const uspws = require('./uspws');

const STEP_TIMEOUT = 20000;
const CTRL = 'Device.LocalAgent.Controller.1.';

function env(name, def) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (def === undefined) throw new Error(`${name} is not set`);
    return def;
  }
  return v;
}

function readConfig() {
  const cfg = {
    mtp: env('USPJS_MTP'),
    agentId: env('USPJS_AGENT_ID'),
    controllerId: env('USPJS_CONTROLLER_ID'),
    softwareVersion: env('USPJS_SOFTWARE_VERSION'),
    trace: env('USPJS_TRACE', '') === '1',
    timeout: Number(env('USPJS_TIMEOUT_MS', '120000')),
  };
  if (cfg.mtp === 'mqtt') {
    Object.assign(cfg, {
      host: env('USPJS_MQTT_HOST'),
      port: Number(env('USPJS_MQTT_PORT')),
      mqttVersion: env('USPJS_MQTT_VERSION'),
      username: env('USPJS_MQTT_USERNAME', ''),
      password: env('USPJS_MQTT_PASSWORD', ''),
      agentTopic: env('USPJS_AGENT_TOPIC'),
      controllerTopic: env('USPJS_CONTROLLER_TOPIC'),
    });
  } else if (cfg.mtp === 'websocket') {
    Object.assign(cfg, { url: env('USPJS_WS_URL'), eidIn: env('USPJS_WS_EID', 'both') });
  } else {
    throw new Error(`USPJS_MTP ${cfg.mtp} is not mqtt or websocket`);
  }
  return cfg;
}

// fail is a failed check, with what was received.
function fail(what, got) {
  const e = new Error(what);
  e.got = got;
  return e;
}

function check(cond, what, got) {
  if (!cond) throw fail(what, got);
}

function describe(e) {
  if (e instanceof Error) return e.got === undefined ? e.message : { error: e.message, got: e.got };
  return e;
}

function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// rejection resolves with what p rejected with, and fails if p resolved.
function rejection(p, what) {
  return p.then(
    (v) => {
      throw fail(`${what}: resolved, an error was expected`, v);
    },
    (e) => e,
  );
}

let failures = 0;

async function step(name, fn) {
  let ok = false;
  let detail;
  try {
    detail = await withTimeout(Promise.resolve().then(fn), STEP_TIMEOUT, name);
    ok = true;
  } catch (e) {
    detail = describe(e);
  }
  if (!ok) failures++;
  process.stdout.write(`${JSON.stringify({ step: name, ok, detail: detail === undefined ? null : detail })}\n`);
  return ok;
}

// tracer decodes Records with usp-js's own protobuf definitions and writes
// them to stderr, one JSON line each.
async function makeTracer(on) {
  if (!on) return () => {};
  const { rootRecord, rootMsg } = await loadProtobuf('1.4');
  const Record = rootRecord.lookupType('usp_record.Record');
  const Msg = rootMsg.lookupType('usp.Msg');
  const opts = { longs: String, enums: String, bytes: String, defaults: false };
  return (dir, topic, bytes) => {
    try {
      const rec = Record.decode(bytes);
      const out = Record.toObject(rec, opts);
      const payload = rec.noSessionContext && rec.noSessionContext.payload;
      if (payload && payload.length) {
        delete out.noSessionContext;
        out.msg = Msg.toObject(Msg.decode(payload), opts);
      }
      process.stderr.write(`trace ${dir} ${JSON.stringify({ topic, record: out })}\n`);
    } catch (e) {
      process.stderr.write(`trace ${dir} undecodable ${bytes.length} bytes: ${e.message}\n`);
    }
  };
}

function traced(client, trace) {
  const publish = client.publish.bind(client);
  client.publish = (topic, rec, ...rest) => {
    trace('>', topic, rec);
    return publish(topic, rec, ...rest);
  };
  client.on('message', (topic, data) => trace('<', topic, data));
  return client;
}

// connect returns the usp-js API and, over MQTT, the topics it uses or,
// over WebSocket, the session's handshake.
async function connect(cfg) {
  const trace = await makeTracer(cfg.trace);
  const common = {
    toId: cfg.agentId,
    fromId: cfg.controllerId,
    connectTimeout: 10000,
    closeOnDisconnect: true,
  };
  const events = { onError: (e) => process.stderr.write(`usp-js error: ${typeof e === 'string' ? e : JSON.stringify(e)}\n`) };
  if (cfg.mtp === 'mqtt') {
    const connectMQTT = uspjs.build({
      connectClient: async (o) => traced(await mqttConnectClient(o), trace),
      decodeID: decodeId,
      loadProtobuf,
    });
    const opts = {
      ...common,
      host: cfg.host,
      port: cfg.port,
      protocol: 'mqtt',
      protocolVersion: cfg.mqttVersion === '5' ? 5 : 4,
      clientId: `uspjs-${process.pid}`,
      publishEndpoint: cfg.agentTopic,
      subscribeEndpoint: cfg.controllerTopic,
    };
    if (cfg.mqttVersion !== '5') {
      // MQTT 3.1.1 carries the "reply to" Topic in the Topic Name, both
      // ways [R-MQTT.24]: usp-js publishes to the name given, and
      // subscribes below its topic to receive the Agent's.
      opts.publishEndpoint = `${cfg.agentTopic}/reply-to=${cfg.controllerTopic.split('/').join('%2F')}`;
      opts.subscribeEndpoint = `${cfg.controllerTopic}/#`;
    }
    if (cfg.username) Object.assign(opts, { username: cfg.username, password: cfg.password });
    const topics = { publishTopic: opts.publishEndpoint, subscribeFilter: opts.subscribeEndpoint };
    return { usp: await connectMQTT(opts, events), topics };
  }
  let session;
  const connectWS = uspjs.build({
    connectClient: async (o) => {
      session = await uspws.connect(o);
      return traced(session, trace);
    },
    decodeID: decodeId,
    loadProtobuf,
  });
  const usp = await connectWS({ ...common, url: cfg.url, eidIn: cfg.eidIn }, events);
  return { usp, handshake: session.handshake };
}

// steps are the checks, in order; each returns its detail or throws.
function steps(cfg, usp) {
  const stamp = Date.now().toString(36);
  const shared = {};
  return [
    ['get_one', async () => {
      const v = await usp.get('Device.LocalAgent.EndpointID');
      check(v === cfg.agentId, 'Device.LocalAgent.EndpointID is not the Agent\'s Endpoint ID', v);
      // usp-js answers in the Record version of the Agent's last Record.
      return { 'Device.LocalAgent.EndpointID': v, uspVersionNow: usp.getUSPVersion() };
    }],
    ['get_several', async () => {
      const paths = ['Device.LocalAgent.EndpointID', 'Device.LocalAgent.SoftwareVersion', 'Device.DeviceInfo.SoftwareVersion', CTRL];
      const v = await usp.get(paths);
      check(Array.isArray(v) && v.length === 4, 'not one result per requested path', v);
      check(v[0] === cfg.agentId, 'EndpointID', v[0]);
      check(v[1] === cfg.softwareVersion, `LocalAgent.SoftwareVersion is not ${cfg.softwareVersion}`, v[1]);
      check(v[2] === cfg.softwareVersion, `DeviceInfo.SoftwareVersion is not ${cfg.softwareVersion}`, v[2]);
      const c = v[3];
      check(c && c.EndpointID === cfg.controllerId && c.Enable === 'true', `${CTRL} is not this enabled Controller`, c);
      check(Array.isArray(c.MTP) && c.MTP.length === 1, `${CTRL}MTP. does not hold one row`, c.MTP);
      const m = c.MTP[0];
      if (cfg.mtp === 'mqtt') {
        check(m.Protocol === 'MQTT' && m.MQTT && m.MQTT.Topic === cfg.controllerTopic, 'Controller MTP is not MQTT with this topic', m);
      } else {
        check(m.Protocol === 'WebSocket', 'Controller MTP is not WebSocket', m);
      }
      return { values: v.slice(0, 3), controller: { EndpointID: c.EndpointID, AssignedRole: c.AssignedRole, MTP: m } };
    }],
    ['get_bad_path', async () => {
      // [R-GET.0]: a path matching nothing gives 7026 in its RequestedPathResult.
      const out = {};
      for (const p of ['Device.LocalAgent.NoSuchParameter', 'Device.NoSuchObject.', 'Device.LocalAgent.Controller.99.']) {
        const e = await rejection(usp.get(p), p);
        check(e && e.errCode === 7026 && e.requestedPath === p, `${p}: not error 7026 for this path`, e);
        out[p] = { errCode: e.errCode, errMsg: e.errMsg };
      }
      return out;
    }],
    ['supported_proto', async () => {
      const v = await usp.supportedProto('1.3');
      check(Array.isArray(v) && v.includes('1.3'), 'agent_supported_protocol_versions lacks 1.3', v);
      return v;
    }],
    ['set', async () => {
      const r = await usp.set(CTRL, { PeriodicNotifInterval: { value: 86400, required: true }, allowPartial: false });
      const hit = (Array.isArray(r) ? r : [r]).find((u) => u && u.affectedPath === CTRL);
      check(hit && hit.updatedParams && hit.updatedParams.PeriodicNotifInterval === '86400', 'SetResp lacks the updated parameter', r);
      const back = await usp.get(`${CTRL}PeriodicNotifInterval`);
      check(back === '86400', 'Get after Set', back);
      return { updatedInstResults: r, readBack: back };
    }],
    ['add', async () => {
      const obj = `${CTRL}BootParameter.`;
      const p = await usp.add(obj, { Enable: true, ParameterName: 'Device.DeviceInfo.SoftwareVersion', allowPartial: false });
      check(typeof p === 'string' && /^Device\.LocalAgent\.Controller\.1\.BootParameter\.\d+\.$/.test(p), 'AddResp instantiated_path', p);
      const row = await usp.get(p);
      check(row && row.ParameterName === 'Device.DeviceInfo.SoftwareVersion' && row.Enable === 'true', 'Get of the new instance', row);
      shared.bootParam = p;
      return { instantiatedPath: p, row };
    }],
    ['instances', async () => {
      const p = shared.bootParam;
      check(p, 'no instance from the add step');
      const r = await usp.instances(`${CTRL}BootParameter.`);
      const insts = (r && r[0] && r[0].currInsts) || [];
      const mine = insts.find((i) => i.instantiatedObjPath === p);
      check(mine && mine.uniqueKeys && mine.uniqueKeys.ParameterName === 'Device.DeviceInfo.SoftwareVersion', 'GetInstancesResp lacks the new instance with its unique key', r);
      const c = await usp.instances('Device.LocalAgent.Controller.', { firstLevelOnly: true });
      const ci = ((c && c[0] && c[0].currInsts) || []).find((i) => i.instantiatedObjPath === CTRL);
      check(ci && ci.uniqueKeys && ci.uniqueKeys.EndpointID === cfg.controllerId, 'GetInstancesResp lacks this Controller with its EndpointID key', c);
      return { bootParameters: insts, controller: ci };
    }],
    ['delete', async () => {
      const p = shared.bootParam;
      check(p, 'no instance from the add step');
      const affected = await usp.del(p, false);
      check(Array.isArray(affected) && affected.length === 1 && affected[0] === p, 'DeleteResp affected_paths', affected);
      const r = await usp.instances(`${CTRL}BootParameter.`);
      const left = ((r && r[0] && r[0].currInsts) || []).map((i) => i.instantiatedObjPath);
      check(!left.includes(p), 'the instance is still listed', r);
      const e = await rejection(usp.get(p), `Get ${p}`);
      check(e && e.errCode === 7026, 'Get of the deleted instance is not error 7026', e);
      return { affectedPaths: affected, remaining: left };
    }],
    ['supported_dm', async () => {
      const r = await usp.supportedDM('Device.', { firstLevelOnly: false, returnCommands: true, returnEvents: true, returnParams: true });
      const res = Array.isArray(r) ? r[0] : null;
      check(res && res.reqObjPath === 'Device.' && !res.errCode, 'RequestedObjectResult for Device.', res && { reqObjPath: res.reqObjPath, errCode: res.errCode });
      const objs = {};
      for (const o of res.supportedObjs || []) objs[o.supportedObjPath] = o;
      const obj = (p) => {
        check(objs[p], `${p} is not in the supported data model`, Object.keys(objs));
        return objs[p];
      };
      const byName = (list, key, name) => (list || []).find((x) => x[key] === name);
      const dev = obj('Device.');
      const timer = byName(dev.supportedCommands, 'commandName', 'ScheduleTimer()');
      check(timer && timer.commandType === 'CMD_ASYNC' && (timer.inputArgNames || []).includes('DelaySeconds'), 'Device.ScheduleTimer()', timer);
      const st = byName(dev.supportedCommands, 'commandName', 'SelfTestDiagnostics()');
      check(st && st.commandType === 'CMD_ASYNC' && (st.outputArgNames || []).includes('Status'), 'Device.SelfTestDiagnostics()', st);
      const boot = byName(dev.supportedEvents, 'eventName', 'Boot!');
      check(boot && (boot.argNames || []).includes('Cause'), 'Device.Boot!', boot);
      const ctrl = obj('Device.LocalAgent.Controller.{i}.');
      check(ctrl.isMultiInstance === true && ctrl.access === 'OBJ_ADD_DELETE', 'Controller.{i}. is not a multi-instance add/delete table', { isMultiInstance: ctrl.isMultiInstance, access: ctrl.access });
      const pni = byName(ctrl.supportedParams, 'paramName', 'PeriodicNotifInterval');
      check(pni && pni.access === 'PARAM_READ_WRITE' && pni.valueType === 'PARAM_UNSIGNED_INT', 'Controller.{i}.PeriodicNotifInterval', pni);
      const cancel = byName(obj('Device.LocalAgent.Request.{i}.').supportedCommands, 'commandName', 'Cancel()');
      check(cancel && cancel.commandType === 'CMD_SYNC', 'Request.{i}.Cancel()', cancel);
      const sv = byName(obj('Device.DeviceInfo.').supportedParams, 'paramName', 'SoftwareVersion');
      check(sv && sv.access === 'PARAM_READ_ONLY' && sv.valueType === 'PARAM_STRING', 'DeviceInfo.SoftwareVersion', sv);
      return { dataModelInstUri: res.dataModelInstUri, objects: Object.keys(objs).length, checked: { timer, pni, cancel } };
    }],
    ['subscribe_value_change', async () => {
      // With a one-second retry wait, a NotifyResp the Agent did not take
      // would bring the Notify again within the three seconds watched.
      await usp.set(CTRL, { USPNotifRetryMinimumWaitInterval: { value: 1, required: true }, allowPartial: false });
      const param = `${CTRL}PeriodicNotifInterval`;
      const subId = `vc-${stamp}`;
      const got = deferred();
      const notifyIds = [];
      const unwatch = usp.on(new RegExp(`^NOTIFY@${subId}$`), (_m, full) => notifyIds.push(full && full.header && full.header.msgId));
      const unsubscribe = await usp.subscribe({ id: subId, notif: 'ValueChange', reference: param }, (msg, full) => got.resolve({ msg, full }));
      const recipient = await usp.get(`Device.LocalAgent.Subscription.[ID=="NOTIFY@${subId}"].Recipient`);
      check(Array.isArray(recipient) && recipient.length === 1 && recipient[0] === CTRL.slice(0, -1), 'the Subscription\'s Recipient is not this Controller', recipient);
      await usp.set(param, '43200');
      const { msg, full } = await withTimeout(got.promise, 10000, 'ValueChange Notify');
      const n = full && full.body && full.body.request && full.body.request.notify;
      check(msg && msg.paramPath === param && msg.paramValue === '43200', 'ValueChange notification content', msg);
      check(n && n.subscriptionId === `NOTIFY@${subId}` && n.sendResp === true, 'Notify subscription_id / send_resp (NotifRetry is true)', n);
      await new Promise((r) => setTimeout(r, 3000));
      unwatch();
      check(notifyIds.length === 1 && notifyIds[0] === full.header.msgId, 'the Notify came again: the Agent did not take usp-js\'s NotifyResp', notifyIds);
      const removed = await unsubscribe();
      check(Array.isArray(removed) && removed.length === 1 && /^Device\.LocalAgent\.Subscription\.\d+\.$/.test(removed[0]), 'deleting the Subscription', removed);
      return { notify: n, notifyMsgIds: notifyIds, subscription: removed[0] };
    }],
    ['operate_sync', async () => {
      // A long Device.ScheduleTimer() leaves a Request row; its synchronous
      // Cancel() ends the timer, whose OperationComplete then carries 7023.
      const timerId = `timer-${stamp}`;
      const [timer, dropSub] = await usp.operate('Device.ScheduleTimer()', { ID: timerId, commandKey: `key-${stamp}` });
      const resp = deferred();
      usp.on(`NOTIFY@${timerId}`, (_m, full) => {
        const or = full && full.body && full.body.response && full.body.response.operateResp;
        if (or) resp.resolve(or);
      });
      const done = timer({ DelaySeconds: '60' });
      done.catch(() => {});
      const or = await withTimeout(resp.promise, 10000, 'OperateResp of Device.ScheduleTimer()');
      const r0 = or.operationResults && or.operationResults[0];
      check(r0 && r0.executedCommand === 'Device.ScheduleTimer()' && /^Device\.LocalAgent\.Request\.\d+\.$/.test(r0.reqObjPath || ''), 'OperateResp req_obj_path', or);
      const req = await usp.get(r0.reqObjPath);
      check(req && req.Status === 'Active' && req.Command === 'Device.ScheduleTimer()' && req.Originator === cfg.controllerId && req.CommandKey === `key-${stamp}`, 'the Request row', req);
      const cancelId = `cancel-${stamp}`;
      const syncResp = deferred();
      usp.on(`OPERATE@${cancelId}`, (_m, full) => syncResp.resolve(full));
      const [cancel] = await usp.operate(`${r0.reqObjPath}Cancel()`, { isAsync: false, ID: cancelId });
      const out = await cancel({});
      const full = await withTimeout(syncResp.promise, 5000, 'OperateResp of Cancel()');
      const c0 = full.body.response.operateResp.operationResults[0];
      check(c0 && c0.executedCommand === `${r0.reqObjPath}Cancel()` && 'reqOutputArgs' in c0 && !c0.cmdFailure, 'Cancel() OperateResp', c0);
      const e = await withTimeout(rejection(done, 'Device.ScheduleTimer()'), 10000, 'OperationComplete of the cancelled timer');
      check(e && e.errCode === 7023, 'the cancelled timer\'s OperationComplete is not cmd_failure 7023', e);
      await dropSub();
      const left = await usp.instances('Device.LocalAgent.Request.');
      const rows = ((left && left[0] && left[0].currInsts) || []).map((i) => i.instantiatedObjPath);
      check(!rows.includes(r0.reqObjPath), 'the Request row outlived its command', rows);
      return { request: r0.reqObjPath, row: req, cancel: { executedCommand: c0.executedCommand, output: out }, timerFailure: e };
    }],
    ['operate_async', async () => {
      const id = `selftest-${stamp}`;
      const key = `st-${stamp}`;
      const [cmd, dropSub] = await usp.operate('Device.SelfTestDiagnostics()', { ID: id, commandKey: key });
      const notify = deferred();
      usp.on(`NOTIFY@${id}`, (_m, full) => {
        const n = full && full.body && full.body.request && full.body.request.notify;
        if (n) notify.resolve(n);
      });
      const out = await cmd();
      check(out && out.Status === 'Complete' && /store ok/.test(out.Results || ''), 'SelfTestDiagnostics() output arguments', out);
      const n = await withTimeout(notify.promise, 5000, 'OperationComplete Notify');
      const oc = n.operComplete;
      check(oc && oc.objPath === 'Device.' && oc.commandName === 'SelfTestDiagnostics()' && oc.commandKey === key, 'OperationComplete obj_path / command_name / command_key', n);
      await dropSub();
      return { output: out, operComplete: { objPath: oc.objPath, commandName: oc.commandName, commandKey: oc.commandKey } };
    }],
    ['operate_async_timer', async () => {
      const [cmd, dropSub] = await usp.operate('Device.ScheduleTimer()', { ID: `short-${stamp}` });
      const t0 = Date.now();
      const out = await cmd({ DelaySeconds: '1' });
      const ms = Date.now() - t0;
      check(ms >= 900 && ms < 10000, 'ScheduleTimer(DelaySeconds=1) did not take about a second', ms);
      check(out && typeof out === 'object' && Object.keys(out).length === 0, 'ScheduleTimer() has no output arguments', out);
      await dropSub();
      return { elapsedMs: ms, output: out };
    }],
    ['disconnect', async () => {
      await usp.disconnect();
      return { closed: true };
    }],
  ];
}

async function main() {
  const cfg = readConfig();
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ step: 'timeout', ok: false, detail: `run exceeded ${cfg.timeout} ms` })}\n`);
    process.exit(3);
  }, cfg.timeout).unref();
  let usp;
  let handshake;
  let topics;
  const connected = await step('connect', async () => {
    ({ usp, handshake, topics } = await connect(cfg));
    const detail = { mtp: cfg.mtp, uspVersion: usp.getUSPVersion() };
    if (cfg.mtp === 'mqtt') Object.assign(detail, { mqttVersion: cfg.mqttVersion }, topics);
    if (handshake) {
      check(handshake.protocol === uspws.SUBPROTOCOL, 'the Agent did not select v1.usp', handshake);
      if (handshake.offeredExtension) {
        // [R-WS.11a]: the server SHOULD answer with its own Endpoint ID.
        check(handshake.serverEID === cfg.agentId, 'bbf-usp-protocol eid in the handshake response', handshake);
      }
      detail.handshake = handshake;
    }
    return detail;
  });
  if (connected) {
    for (const [name, fn] of steps(cfg, usp)) await step(name, fn);
  }
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ step: 'setup', ok: false, detail: describe(e) })}\n`);
  process.exit(2);
});
