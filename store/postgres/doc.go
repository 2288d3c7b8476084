// Package postgres stores uspkit data in PostgreSQL through pgx
// (github.com/jackc/pgx/v5), for a Controller that runs as several
// stateless replicas over one database. It has the method set of
// store.Memory and store/sqlite and passes the same suite (storetest).
//
// Open takes a pgx connection string, either a URL
// ("postgres://user@host:5432/db?sslmode=verify-full") or keyword/value
// pairs ("host=/run/postgresql dbname=usp"), and brings the schema up to
// date: its version is the one row of the schema_version table, and
// migrations run in one transaction under an advisory lock, so replicas
// that start together do not race. The tables (schema_version, objects,
// counters, items) are created in the first schema of the connection's
// search_path; add search_path=uspkit to the DSN (a schema created
// beforehand) to keep them apart from other applications' tables.
//
// Concurrency: a *DB is safe for concurrent use by many goroutines and by
// many processes on the same database. Apply runs each Batch as one
// SERIALIZABLE transaction, retried (with back-off) when PostgreSQL reports
// a serialization failure or a deadlock, so concurrent Batches take effect
// in some serial order, even when one deletes a subtree another writes to.
// Load reads one SERIALIZABLE READ ONLY DEFERRABLE snapshot: it sees each
// Batch whole or not at all, and only states that a serial order of the
// Batches passes through.
//
// Durability is PostgreSQL's: with synchronous_commit on (its default) a
// Batch is in the write-ahead log on disk when Apply returns nil, and a
// crash of the client or of the server (even kill -9) loses nothing that
// was acknowledged. When Apply fails because the connection broke during
// COMMIT the Batch may or may not have been applied; a Batch is idempotent,
// so applying it again is safe.
//
// PostgreSQL text is valid UTF-8 without NUL: a Batch with any other
// path, parameter name or value, kind or id fails as a whole.
//
//	db, err := postgres.Open(ctx, "postgres://usp@db.example/usp")
//	defer db.Close()
//	err = db.Apply(ctx, &store.Batch{Put: []store.Object{{Path: "Device.X.1.", Params: map[string]string{"A": "1"}}}})
//	snap, err := db.Load(ctx)
package postgres
