// Package storetest holds the behaviour suite every store implementation
// passes: store.Memory, store/sqlite and store/postgres run the same cases.
//
//	func TestSuite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store { return openFresh(t) })
//	}
package storetest
