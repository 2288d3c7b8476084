package softwaremodules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

// A USP Broker asks which Deployment Unit runs the process on the other
// end of a USP Service's socket; a process that is no unit's has none.
func ExampleManager_DeploymentUnitOf() {
	dir, _ := os.MkdirTemp("", "smm-owner-")
	defer os.RemoveAll(dir)
	sm, err := softwaremodules.New(context.Background(), &softwaremodules.Options{Dir: filepath.Join(dir, "software"),
		Envs: []softwaremodules.ExecEnv{softwaremodules.ProcessEnv{}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sm.Close()
	fmt.Printf("%q\n", sm.DeploymentUnitOf(os.Getpid()))
	// Output: ""
}
