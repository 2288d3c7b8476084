// Package endpoint parses and validates USP Endpoint IDs (TR-369
// §"Endpoint Identifier"):
//
//	authority-scheme ":" [authority-id] ":" instance-id
//
// for every authority scheme the spec defines (oui, cid, pen, self, user,
// os, ops, uuid, imei, proto, doc, fqdn), with each scheme's rules for the
// authority-id [R-ARC.2a] and the instance-id character set and length
// [R-ARC.5], [R-ARC.6]. ParseURN reads the form used in certificates,
// "urn:bbf:usp:id:" followed by the Endpoint ID.
//
//	id, err := endpoint.Parse("os::00D09E-SN000123")
//	if err != nil {
//		// *endpoint.Error naming the part at fault
//	}
//	id.Scheme // endpoint.SchemeOS
//
// Errors are *Error values; their USPErrorCode method returns 7004
// (Invalid arguments), the code a malformed Endpoint ID gets in a Msg.
package endpoint
