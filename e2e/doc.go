// Package e2e implements TR-369's End to End Session Context: the sequence,
// expected and retransmit identifiers of session_context Records, the
// incoming buffer that puts Records back in order, the outgoing buffer that
// answers retransmission requests, and the segmentation and reassembly
// (SAR) of a Msg larger than the largest Record an MTP carries.
//
// A Session is a state machine without I/O: Send turns a serialized Msg
// into the Records to transmit, Receive takes a Record from the peer and
// returns the Msgs now complete, in order, and any Records to transmit
// again. Sessions, one per remote Endpoint, live in a Table, which starts,
// restarts and expires them by the spec's rules. Every buffer is bounded:
// a peer that sends Records out of order, duplicates, bogus identifiers or
// endless segments costs at most Config's limits, then gets its session
// restarted (R-E2E.21).
//
// Payload security is PLAINTEXT or TLS12 (Config.Security). With TLS12
// the Endpoint that starts the session is the TLS client (NewSession), the
// other the server (AcceptSession); crypto/tls runs over an in-memory
// connection (pipe.go) whose bytes travel as the payloads of the
// session's Records, segmented like any payload. TLS 1.2 only, with
// ECDHE-ECDSA-AES128-GCM-SHA256 over P-256 [R-E2E.40]; both sides present
// certificates, checked against the trust anchors and the peer's Endpoint
// ID [R-E2E.43]; renegotiation requests are dropped [R-E2E.42]. Records
// sent during the handshake are signed (ECDSA P-256, sender_cert); once
// it completed they carry an HMAC-SHA256 keyed from the TLS session
// [R-E2E.31]–[R-E2E.39]. A Record whose payload_security differs from the
// session's, whose mac_signature does not verify, or whose TLS fails,
// fails the session, which Table restarts [R-E2E.19], [R-E2E.21],
// [R-E2E.23]. A session configured for TLS12 without certificates, or
// PLAINTEXT, refuses the other with ErrUnsupportedSecurity.
package e2e
