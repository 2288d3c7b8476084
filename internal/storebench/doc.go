// Package storebench compares the agent's store drivers on what matters for
// a device's flash: time and bytes written per acknowledged change, deletes
// in a large table, and start time (loading every row). It holds only
// benchmarks.
package storebench
