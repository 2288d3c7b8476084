package softwaremodules_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

// printEvents is a Notifier that prints each DUStateChange!.
type printEvents struct{}

func (printEvents) Emit(_ context.Context, path string, args func(string) map[string]string) {
	a := args("")
	fmt.Println(path, a["OperationPerformed"], a["CurrentState"], a["Fault.FaultCode"])
}

// A plain-process Deployment Unit installed from a file and its Execution
// Unit started.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "smm-example-")
	defer os.RemoveAll(dir)

	// The unit: a tar.gz with manifest.json and what its command needs.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"manifest.json": `{"name":"hello","version":"1.0","vendor":"Acme","command":["/bin/sh","run.sh"]}`,
		"run.sh":        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	du := filepath.Join(dir, "hello.tgz")
	os.WriteFile(du, buf.Bytes(), 0o600)

	m := schema.New()
	m.Define("Device.")
	softwaremodules.Define(m)
	mux := datamodel.NewMux(m)
	sm, err := softwaremodules.New(ctx, &softwaremodules.Options{Dir: filepath.Join(dir, "software"), Envs: []softwaremodules.ExecEnv{softwaremodules.ProcessEnv{}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sm.Close()
	softwaremodules.Register(mux, sm)
	sm.Start(ctx, printEvents{}) // an *agent.Agent in a real Agent
	eng, _ := datamodel.New(ctx, mux, datamodel.Options{})

	res, _ := eng.Operate(ctx, datamodel.Caller{}, "Device.SoftwareModules.InstallDU()", "k1", map[string]string{"URL": "file://" + du})
	if _, err := res[0].Async(ctx); err != nil { // the Agent runs this in the background
		fmt.Println(err)
	}
	eng.Operate(ctx, datamodel.Caller{}, "Device.SoftwareModules.ExecutionUnit.1.SetRequestedState()", "k2", map[string]string{"RequestedState": "Active"})
	get := eng.Get(ctx, datamodel.Caller{}, []string{"Device.SoftwareModules.DeploymentUnit.1.Name", "Device.SoftwareModules.DeploymentUnit.1.Version"}, 0)
	fmt.Println(get[0].Objects[0].Params["Name"], get[1].Objects[0].Params["Version"])
	// Output:
	// Device.SoftwareModules.DUStateChange! Install Installed 0
	// hello 1.0
}
