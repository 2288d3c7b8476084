//go:build !usp_noproto

package record_test

import (
	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/wire"
)

// protoReference is whether unmarshalRecord is protobuf-go's decoder.
const protoReference = true

// unmarshalRecord decodes b with protobuf-go's own decoder, the reference
// the package's codec is checked against.
func unmarshalRecord(b []byte, r *wire.Record) error {
	return proto.Unmarshal(b, r)
}
