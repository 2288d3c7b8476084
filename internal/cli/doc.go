// Package cli implements the subcommands of the usp binary. Each command
// turns flags into options and makes one library call; protocol logic lives
// in the libraries.
//
//	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
//	os.Exit(code)
package cli
