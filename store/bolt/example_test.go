package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/bolt"
)

func Example() {
	dir, _ := os.MkdirTemp("", "bolt-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := bolt.Open(ctx, filepath.Join(dir, "agent.bolt"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.Apply(ctx, &store.Batch{Put: []store.Object{{Path: "Device.LocalAgent.Controller.1.", Params: map[string]string{"EndpointID": "proto::ctl"}}}})
	snap, _ := db.Load(ctx)
	for _, o := range snap.Objects {
		fmt.Println(o.Path, o.Params["EndpointID"])
	}
	// Output: Device.LocalAgent.Controller.1. proto::ctl
}
