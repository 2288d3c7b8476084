// Package schema is the supported data model of a USP Agent: objects,
// multi-instance tables and their unique keys, parameters with their TR-106
// types, access and defaults, commands with input and output arguments, and
// events with arguments.
//
// A Model comes from BBF data-model XML in the TR-106 format (LoadXML, which
// reads the flattened "-full" documents such as TR-181's USP model), or from
// the product's own definitions built in Go (New, Model.Define). No
// description text is kept.
//
//	m := schema.New()
//	m.Define("Device.")
//	m.Define("Device.LocalAgent.")
//	m.Define("Device.LocalAgent.Controller.{i}.", schema.ObjAddDelete, schema.Keys("EndpointID"), schema.AliasKey()).
//		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false"))
//	p := m.Param("Device.LocalAgent.Controller.{i}.Enable")
//	err := p.Type.Validate("maybe") // USPErrorCode() == 7011
//
// Paths are in supported-data-model form, with "{i}" for every instance
// identifier. A Model is not safe for concurrent modification; once built it
// may be read from any number of goroutines.
package schema
