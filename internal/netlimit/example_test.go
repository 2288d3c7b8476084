package netlimit_test

import (
	"fmt"
	"net"
	"net/http"

	"github.com/uspkit/uspkit/internal/netlimit"
)

func ExampleWrap() {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ln := netlimit.Wrap(inner, &netlimit.Options{MaxConns: 256, MaxPerSource: 32})
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	defer srv.Close()
	open, refused := ln.Stats()
	fmt.Println(open, refused)
	// Output: 0 0
}
