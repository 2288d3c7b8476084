// Package sqlite stores uspkit data in an SQLite file through the pure-Go
// driver modernc.org/sqlite, so the usp binary stays static. It runs in WAL
// mode with synchronous=FULL: a Batch is on disk when Apply returns, and a
// crash (even kill -9) loses nothing that was acknowledged.
//
//	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "agent.db"))
//	defer db.Close()
//	snap, err := db.Load(ctx)
package sqlite
