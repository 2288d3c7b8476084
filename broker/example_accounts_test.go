package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/uspkit/uspkit/broker"
)

// Agent accounts kept in a file: each Agent logs in with its Endpoint ID
// and a generated password, and a revoked account is cut off at once.
func ExampleAccounts() {
	dir, _ := os.MkdirTemp("", "accounts")
	defer os.RemoveAll(dir)
	accts, err := broker.OpenAccounts(filepath.Join(dir, "broker-accounts.json"))
	if err != nil {
		panic(err)
	}
	pass, err := accts.SetPassword("os::012345-SERIAL1")
	if err != nil {
		panic(err)
	}
	b, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", USPPolicy: true, Accounts: accts})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		panic(err)
	}
	defer b.Close()

	agent := dial(ctx, b.Addrs().TCP, "os::012345-SERIAL1", pass, nil)
	fmt.Println("agent topic:", agent.connack.Properties.User.Get("subscribe-topic"))
	if err := accts.Revoke("os::012345-SERIAL1"); err != nil {
		panic(err)
	}
	<-agent.Done()
	fmt.Println("revoked: connection cut")
	// Output:
	// agent topic: usp/agent/os::012345-SERIAL1/#
	// revoked: connection cut
}
