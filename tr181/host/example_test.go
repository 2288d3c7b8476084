package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/host"
)

// The DNS servers of a resolver configuration, served as
// Device.DNS.Client.Server.{i}.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "host-example")
	defer os.RemoveAll(dir)
	rc := filepath.Join(dir, "resolv.conf")
	os.WriteFile(rc, []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\n"), 0o644)

	h, err := host.New(&host.Options{Areas: []host.Area{host.AreaDNS}, ResolvConf: rc})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	m := schema.New()
	m.Define("Device.")
	host.Define(m, host.AreaDNS)
	mux := datamodel.NewMux(m)
	h.Register(mux)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DNS.Client.Server.*.DNSServer"}, 0)
	for _, o := range res[0].Objects {
		fmt.Println(o.Path, o.Params["DNSServer"])
	}
	// Output:
	// Device.DNS.Client.Server.1. 192.0.2.53
	// Device.DNS.Client.Server.2. 2001:db8::53
}

func ExampleParseArea() {
	a, err := host.ParseArea("hosts")
	fmt.Println(a, err)
	_, err = host.ParseArea("wifi")
	fmt.Println(err != nil)
	// Output:
	// hosts <nil>
	// true
}
