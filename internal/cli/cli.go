//go:build !usp_device

package cli

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sort"

	"github.com/uspkit/uspkit/record"
)

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"add":         {"add an object instance: add OBJECT. [PARAM=VALUE...]", runAdd},
		"agent":       {"run a USP Agent (--config FILE)", runAgent},
		"campaigns":   {"firmware and software campaigns: campaigns [ID | follow ID | pause ID | resume ID | abort ID]", runCampaigns},
		"firmware":    {"upgrade agents' firmware: firmware upgrade --url URL|--file FILE [--checksum ALG:HEX] [--activate] AGENT...|--group G", runFirmware},
		"software":    {"install software on agents: software install --url URL|--file FILE AGENT...|--group G", runSoftware},
		"bench":       {"measure an agent's cost per message over MQTT or WebSocket (--agent ID --mqtt URL --topic T | --ws URL)", runBench},
		"agents":      {"list the agents the controller knows (--q --model --version --online --tag --group --seen-before --seen-after --param/--value --sort --order --limit --offset); agents add|revoke ENDPOINT_ID [--password|--cert]: their embedded-broker accounts", runAgents},
		"tag":         {"replace an agent's tags: tag AGENT [TAG...]", runTag},
		"groups":      {"groups of agents: groups [create --name N (AGENT... | filter flags) | delete ID | members ID]", runGroups},
		"jobs":        {"one request to many agents: jobs [ID | start (--group G | --agents A,B) [--wait] KIND ARG... | cancel ID | delete ID]", runJobs},
		"controller":  {"run a USP Controller with its REST API (--config FILE)", runController},
		"delete":      {"delete object instances: delete OBJECT...", runDelete},
		"events":      {"print the controller's events (--follow)", runEvents},
		"get":         {"read parameters: get PATH...", runGet},
		"instances":   {"list object instances: instances OBJECT...", runInstances},
		"operate":     {"run a command: operate 'CMD()' [ARG=VALUE...]", runOperate},
		"proto":       {"the USP versions the agent supports", runProto},
		"service":     {"run an example USP Service on a USP Broker's sockets (--config FILE)", runService},
		"set":         {"set parameters: set PATH=VALUE...", runSet},
		"sim":         {"connect a fleet of simulated agents to a controller", runSim},
		"supported":   {"the agent's supported data model: supported [OBJECT...]", runSupported},
		"up":          {"run a controller, its API and a local agent, for a first run", runUp},
		"conformance": {"run the TP-469 conformance test plan against an agent", runConformance},
		"decode":      {"print a binary USP Record (or Msg) as JSON", runDecode},
		"encode":      {"turn JSON into a binary USP Record (or Msg)", runEncode},
		"version":     {"print the version", runVersion},
	}
}

// Main runs the usp command line args and returns the exit status: 0 on
// success, 1 on failure, 2 on a usage error. Errors are printed to stderr as
// one line prefixed by the command's name.
//
// `usp COMMAND -h` prints the command's usage to stdout and exits 0; a
// wrong flag prints it to stderr and exits 2.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "usp: unknown command %q (run \"usp help\")\n", args[0])
		return 2
	}
	return runCommand(ctx, args[0], cmd.run, args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usp: a TR-369 User Services Platform toolkit")
	fmt.Fprintln(w, "\nUsage: usp COMMAND [flags] [args]\n\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"usp COMMAND -h\" for a command's flags.")
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	goVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(e.stdout, "usp %s (USP %s; reads %s) %s\n", buildVersion(), record.Version, record.SupportedVersions, goVersion)
	return nil
}
