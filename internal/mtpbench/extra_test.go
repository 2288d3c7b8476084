package mtpbench_test

import "testing"

// extraMTPs are the MTPs measured beyond WebSocket, UDS and STOMP.
func extraMTPs(t *testing.T) []pair { return nil }
