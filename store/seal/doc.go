// Package seal keeps secret parameter values (TR-181 passwords and other
// Secured parameters) encrypted at rest: a Store wrapper that seals them
// with AES-256-GCM before they reach the underlying store and opens them
// when loading, with the key in a file of its own (mode 0600).
//
//	key, err := seal.LoadKey(filepath.Join(dir, seal.KeyFile)) // created on first use
//	s, err := seal.New(ctx, db, &seal.Options{Key: key, Secret: isSecured})
//	agent.New(ctx, agent.Options{Store: s, ...})
//
// What it covers: a copy of the database alone (a backup, a disk image, a
// file sent with a bug report, a database readable by others) does not
// reveal the secrets, and a sealed value moved to another parameter or
// object does not open. What it does not: anyone who can read the key
// file, which sits next to the database, or the process's memory, can
// read them; it is no substitute for the data directory's 0700 mode.
package seal
