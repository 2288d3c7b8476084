// Package uspjs is a third-party interoperability test: usp-js, an
// independently written USP Controller library from npm (version pinned in
// package.json and package-lock.json), drives the `usp agent` process over
// MQTT 3.1.1 through mosquitto, MQTT 5 through the embedded broker with its
// USP topic policy, and the USP WebSocket MTP.
//
// The test builds cmd/usp, starts the Agent on 127.0.0.1 with a
// configuration written for each transport, and runs interop.js under node.
// The script performs Get, Set, Add, GetInstances, Delete, GetSupportedDM,
// GetSupportedProtocol, a ValueChange subscription and synchronous and
// asynchronous Operate, checks what the Agent answered and prints one JSON
// line per step; the test requires every step, and each to be ok.
//
// usp-js 0.5.1 has no USP WebSocket MTP (its "ws" option is MQTT over
// WebSocket), so uspws.js gives its build() a client that carries the
// Records usp-js encodes over a v1.usp WebSocket session.
//
//	npm ci --prefix test/interop/uspjs --ignore-scripts
//	go test ./test/interop/uspjs -v -count=1
//
// Without node or npm the test is skipped, and fails when
// USP_REQUIRE_EXTERNAL=1; without node_modules it runs npm ci itself.
package uspjs
