//go:build usp_noproto

package wire_test

// acceptsWrongWireType: the usp_noproto build has only the generated
// decoder, which refuses it.
const acceptsWrongWireType = false
