package seal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/seal"
)

func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "seal")
	defer os.RemoveAll(dir)
	key, err := seal.LoadKey(filepath.Join(dir, seal.KeyFile))
	if err != nil {
		panic(err)
	}
	inner := store.NewMemory()
	s, err := seal.New(ctx, inner, &seal.Options{Key: key, Secret: func(_, param string) bool { return param == "Password" }})
	if err != nil {
		panic(err)
	}
	s.Apply(ctx, &store.Batch{Put: []store.Object{{Path: "Device.MQTT.Client.1.", Params: map[string]string{"Password": "s3cret"}}}})
	raw, _ := inner.Load(ctx)
	opened, _ := s.Load(ctx)
	fmt.Println(strings.HasPrefix(raw.Objects[0].Params["Password"], seal.Prefix), opened.Objects[0].Params["Password"])
	// Output: true s3cret
}
