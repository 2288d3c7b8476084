// Command gen writes codes_gen.go from codes.txt: run by `go generate` in
// package usperr.
package main

import (
	"fmt"
	"os"

	"github.com/uspkit/uspkit/usperr/internal/table"
)

func main() {
	src, err := os.ReadFile("codes.txt")
	if err == nil {
		var out []byte
		if out, err = table.Generate(src); err == nil {
			err = os.WriteFile("codes_gen.go", out, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "usperr gen:", err)
		os.Exit(1)
	}
}
