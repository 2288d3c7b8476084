'use strict';
// A USP WebSocket MTP client (TR-369 "WebSocket Binding") with the shape
// of the MQTT client that usp-js's build() drives: on('message' | 'error' |
// 'offline' | 'reconnect' | 'close'), subscribe, unsubscribe,
// publish(topic, bytes) and end(). usp-js 0.5.1 speaks MQTT only; with this
// client its own encoder and decoder exchange every USP Record with an
// Agent's WebSocket server. The client carries whole Records as binary
// frames and never looks inside them.
//
// The handshake offers the v1.usp subprotocol [R-WS.9], [R-WS.10] and names
// the Controller's Endpoint ID in the request URI query (eid=…) [R-WS.10b],
// in the bbf-usp-protocol extension [R-WS.10a] (deprecated since USP 1.3),
// or both.

const { EventEmitter } = require('events');
const WebSocket = require('ws');

const SUBPROTOCOL = 'v1.usp';
const EXTENSION = 'bbf-usp-protocol';

// formatExtension is the Sec-WebSocket-Extensions value offering the
// bbf-usp-protocol extension with eid as a quoted string.
function formatExtension(eid) {
  return `${EXTENSION}; eid="${eid.replace(/["\\]/g, '\\$&')}"`;
}

// parseExtensions splits a Sec-WebSocket-Extensions value into
// [{name, params}], honouring quoted parameter values.
function parseExtensions(header) {
  const out = [];
  let cur = null;
  let i = 0;
  const s = header || '';
  const token = () => {
    const m = /^[^\s,;=]+/.exec(s.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  const value = () => {
    if (s[i] !== '"') return token();
    let v = '';
    for (i++; i < s.length && s[i] !== '"'; i++) {
      if (s[i] === '\\') i++;
      v += s[i] || '';
    }
    i++;
    return v;
  };
  const skip = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  for (let guard = 0; i < s.length && guard < 1000; guard++) {
    skip();
    if (s[i] === ',') {
      i++;
      cur = null;
      continue;
    }
    if (s[i] === ';') {
      i++;
      skip();
      const k = token();
      skip();
      let v = true;
      if (s[i] === '=') {
        i++;
        skip();
        v = value();
      }
      if (cur && k) cur.params[k] = v;
      continue;
    }
    const name = token();
    if (!name) {
      i++;
      continue;
    }
    cur = { name, params: {} };
    out.push(cur);
  }
  return out;
}

// Client is one WebSocket session to an Agent.
class Client extends EventEmitter {
  constructor(ws, handshake) {
    super();
    this.ws = ws;
    this.handshake = handshake;
    this.connected = true;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        // A USP Record always travels in a binary frame [R-WS.14].
        this.emit('error', new Error('text frame from the Agent'));
        return;
      }
      this.emit('message', '', data);
    });
    ws.on('error', (err) => this.emit('error', err));
    ws.on('close', (code, reason) => {
      this.connected = false;
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.emit('close');
    });
  }

  // A WebSocket session has a single peer: topics have no meaning.
  subscribe(topic) {
    return Promise.resolve([{ topic, qos: 0 }]);
  }

  unsubscribe() {
    return Promise.resolve();
  }

  publish(_topic, record) {
    return new Promise((resolve, reject) => {
      this.ws.send(record, { binary: true }, (err) => (err ? reject(err) : resolve()));
    });
  }

  end() {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 3000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000, 'controller done');
    });
  }
}

// connect opens a session: opts.url (ws://host:port/path), opts.fromId
// (the Controller's Endpoint ID), opts.eidIn ("query", "extension" or
// "both", the default) and opts.handshakeTimeout in ms. It resolves once
// the Agent has selected v1.usp.
function connect(opts) {
  return new Promise((resolve, reject) => {
    const eidIn = opts.eidIn || 'both';
    const target = new URL(opts.url);
    if (eidIn !== 'extension') target.searchParams.set('eid', opts.fromId);
    const headers = {};
    if (eidIn !== 'query') headers['Sec-WebSocket-Extensions'] = formatExtension(opts.fromId);
    // permessage-deflate off: the ws library would replace the header above
    // with its own offer.
    const ws = new WebSocket(target.toString(), SUBPROTOCOL, {
      headers,
      perMessageDeflate: false,
      handshakeTimeout: opts.handshakeTimeout || 5000,
    });
    ws.binaryType = 'nodebuffer';
    const handshake = { url: target.toString(), eidIn, offeredExtension: headers['Sec-WebSocket-Extensions'] || null };
    ws.on('upgrade', (res) => {
      const ext = res.headers['sec-websocket-extensions'];
      handshake.responseExtensions = ext === undefined ? null : ext;
      const parsed = parseExtensions(ext);
      const usp = parsed.find((e) => e.name === EXTENSION);
      handshake.serverEID = usp && typeof usp.params.eid === 'string' ? usp.params.eid : null;
      // RFC 6455 lets the server accept an extension the client offered;
      // the ws library knows only permessage-deflate and would fail the
      // handshake, so the bbf-usp-protocol answer is taken out once read.
      if (usp && parsed.length === 1 && handshake.offeredExtension) delete res.headers['sec-websocket-extensions'];
    });
    const onError = (err) => reject(err);
    ws.once('error', onError);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => {
        reject(new Error(`handshake refused: HTTP ${res.statusCode}: ${body.trim()}`));
        ws.terminate();
      });
    });
    ws.once('open', () => {
      ws.off('error', onError);
      handshake.protocol = ws.protocol;
      resolve(new Client(ws, handshake));
    });
  });
}

module.exports = { connect, formatExtension, parseExtensions, SUBPROTOCOL, EXTENSION };
