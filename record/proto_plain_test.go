//go:build usp_noproto

package record_test

import "github.com/uspkit/uspkit/wire"

// protoReference is whether unmarshalRecord is protobuf-go's decoder.
const protoReference = false

// unmarshalRecord decodes b with wire's generated decoder: the usp_noproto
// build has no protobuf-go decoder to check the package's codec against.
func unmarshalRecord(b []byte, r *wire.Record) error {
	r.Reset()
	return r.UnmarshalVT(b)
}
