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
// Payload security here is PLAINTEXT; a Record asking for TLS12 is refused
// with ErrUnsupportedSecurity, which an Endpoint reports with error 7106
// (Session Context not allowed) or by restarting the session.
package e2e
