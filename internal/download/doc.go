// Package download fetches a file over HTTP(S) or from a file:// URL into
// a local path for the Agent's file-transfer commands (firmware images):
// streamed to disk with bounded memory, checked against an expected size
// and a TR-181 CheckSumAlgorithm digest, retried with back-off, and
// resumed with an HTTP Range request from what an earlier attempt (or an
// earlier run of the process) left in the partial file.
//
//	n, err := download.Fetch(ctx, download.Request{URL: u, CheckSumAlgorithm: "SHA-256", CheckSum: sum}, "/data/fw/2.img", nil)
//	var e *download.Error
//	if errors.As(err, &e) { report(e.Fault, e.Msg) }
//
// Every failure is an *Error carrying a Fault class the caller maps onto
// its protocol's fault codes; the destination path is written only once
// the whole file has been checked (via a rename), so a failed transfer
// never leaves a file that looks complete.
package download
