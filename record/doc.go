// Package record encodes, decodes and validates USP Records, the envelope in
// which every USP Msg travels between two Endpoints (TR-369 §"USP Record").
//
// A Record is a plain Go value. Decode reads one from a byte slice without
// copying its byte fields: Payload, MACSignature, SenderCert and the session
// payloads alias the input, so the input must not be modified while the
// Record is in use. AppendBinary appends the encoding to a caller's buffer.
// Both follow the protobuf rules of the TR-369 1.3 schema exactly (see
// package wire), so any conforming peer reads what this package writes.
//
// Validate applies the record-level checks of TR-369 and reports failures as
// *Error values carrying the USP record error code (7100–7106).
//
//	var rec record.Record
//	if err := record.Decode(buf, &rec, nil); err != nil {
//		// usperr.Code(err) is 7100 for malformed input.
//	}
//	if rec.ToID != self {
//		// [R-E2E.1]: ignore it.
//	}
//	out, err := record.NewNoSession(peer, self, payload).AppendBinary(dst[:0])
//
// Records carry no state between calls: end-to-end sessions (sequence ids,
// segmentation, retransmission) live in package e2e.
package record
