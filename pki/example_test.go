package pki_test

import (
	"fmt"
	"os"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/pki"
)

// The Controller's CA issues an Agent a client certificate naming its
// Endpoint ID.
func ExampleCA_IssueAgent() {
	dir, _ := os.MkdirTemp("", "pki")
	defer os.RemoveAll(dir)
	ca, err := pki.Open(dir)
	if err != nil {
		panic(err)
	}
	issued, err := ca.IssueAgent("os::012345-SERIAL1", 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(issued.Cert.URIs[0])
	fmt.Println(endpoint.FromCertificate(issued.Cert))
	// Output:
	// urn:bbf:usp:id:os::012345-SERIAL1
	// [os::012345-SERIAL1]
}
