package endpoint_test

import (
	"fmt"

	"github.com/uspkit/uspkit/endpoint"
)

func ExampleParse() {
	id, err := endpoint.Parse("ops::00D09E-HG-SN000123")
	fmt.Println(id.Scheme, id.Instance, err)
	_, err = endpoint.Parse("oui:XYZ:agent")
	fmt.Println(err)
	// Output:
	// ops 00D09E-HG-SN000123 <nil>
	// endpoint ID "oui:XYZ:agent": authority-id: must be 6 hex characters
}

func ExampleForOS() {
	fmt.Println(endpoint.ForOS("00d09e", "SN-42"))
	// Output: os::00D09E-SN%2D42
}
