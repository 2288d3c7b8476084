// Package cli implements the subcommands of the usp binary. Each command
// turns flags into options and makes one library call; protocol logic lives
// in the libraries.
//
//	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
//	os.Exit(code)
//
// The device build of cmd/usp-agent (build tag usp_device) compiles only
// the Agent's files: a file for another command (the Controller, the
// client verbs, the conformance runner, anything that imports controller,
// conformance, telemetry, broker or store/sqlite) starts with
// "//go:build !usp_device". TestDeviceBuildFiles names a file that does
// not, and cmd/usp-agent's TestDeviceBuildLeavesOut checks the whole build.
package cli
