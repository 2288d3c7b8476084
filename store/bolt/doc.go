// Package bolt is a store (see package store) in one file, kept with
// go.etcd.io/bbolt: pure Go, so it builds for every CPU Go supports,
// including the MIPS and 32-bit ARM routers that SQLite's pure-Go port
// does not reach.
//
// Every Apply is one bbolt transaction, written and fsynced before Apply
// returns: an acknowledged Batch survives a crash or power loss. Objects
// are keyed by path, so deleting an object and its descendants reads only
// their keys.
package bolt
