// Package store holds the row types uspkit persists and Memory, an
// in-memory implementation; drivers for real databases live in
// store/sqlite and store/postgres. Consumers (datamodel, agent, controller)
// define the interfaces they need; every implementation here satisfies them
// with the same method set:
//
//	Load(ctx) (*Snapshot, error)
//	Apply(ctx, *Batch) error   // all or nothing
//
// A Batch is applied atomically and durably: once Apply returns nil, a crash
// does not lose it.
//
//	m := store.NewMemory()
//	err := m.Apply(ctx, &store.Batch{Put: []store.Object{{Path: "Device.X.1.", Params: map[string]string{"A": "1"}}}})
package store
