// Package mtptest holds the behaviour suite every mtp.Transport passes, and
// Pipe, an in-memory transport for testing the layers above without a
// network.
//
// An MTP package runs the suite over a pair of its transports wired to each
// other (through a real broker where the MTP has one):
//
//	func TestSuite(t *testing.T) {
//		mtptest.Run(t, func(t *testing.T) *mtptest.Pair {
//			a, b := newConnectedPair(t)
//			return &mtptest.Pair{A: a, B: b, AddrOfB: "usp/agent"}
//		})
//	}
package mtptest
