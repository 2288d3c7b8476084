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
//
// Feature tags added to usp_device leave more of the Agent out:
// usp_nodiag, usp_nosmm, usp_nohost, usp_nobulk, usp_nodiscovery,
// usp_nostomp and usp_nows; usp_bolt adds the bbolt store. The files a tag
// removes start with "//go:build !usp_no…", and a file of the same
// subsystem built with the tag (feature_no*.go, mtp_no*.go) refuses its
// configuration: cmd/usp-agent's TestDeviceBuildFeatureTags and
// TestDeviceBuildMinimal check each.
package cli
