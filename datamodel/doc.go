// Package datamodel is the Agent's data-model engine. It serves the USP
// data-model operations — Get, Set, Add, Delete, Operate, GetInstances and
// GetSupportedDM — over a supported data model (a *schema.Model) whose
// objects are either stored or provided:
//
//   - Stored objects (Mux.Store) are owned by the engine: their instances
//     and parameter values live in memory and are written through to a
//     store (package store) in one batch per committed change, so that an
//     acknowledged change survives a restart or a crash. Device.LocalAgent's
//     Controller, Subscription and ControllerTrust tables are stored.
//   - Provided objects (Mux.Handle) are backed by a Handler that reads and
//     changes live state, in the shape of net/http: ServeUSP(ctx, w, r)
//     with the operation, the instantiated path and the values in the
//     Request, and the answer written to the ResponseWriter.
//
// The engine resolves every Path Name form (instance numbers, unique-key
// and search expressions, wildcards, reference following), validates
// values against their types, applies access rules and the caller's
// permissions, enforces unique keys on Add and Set, applies defaults, and
// makes allow_partial=false all-or-nothing across every object in a
// message: stored changes are one store batch, provided ones are checked
// first (Request.CheckOnly) and undone if a later part fails.
//
// Handlers never see protobuf types: package agent translates a USP Msg
// into calls of the Engine's methods and their results back into a Msg.
//
//	m := schema.New() // or schema.LoadXML, schema.Model.Subset
//	mux := datamodel.NewMux(m)
//	mux.HandleFunc("Device.DeviceInfo.", deviceInfo)
//	mux.Store("Device.LocalAgent.Controller.{i}.", nil)
//	eng, err := datamodel.New(ctx, mux, datamodel.Options{Store: st})
//	res := eng.Get(ctx, caller, []string{"Device.DeviceInfo."}, 0)
//
// An Engine is safe for concurrent use. Requests that change the data
// model are serialised; reads run concurrently with each other.
package datamodel
