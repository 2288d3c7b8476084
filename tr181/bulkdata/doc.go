// Package bulkdata is the Agent's Bulk Data collection: Device.BulkData
// of TR-181 2.16 with profiles that report over HTTP(S) (TR-369 Annex A),
// as Device.BulkData.Profile.{i}.Push! events over USP, or published on an
// MQTT topic through one of the Agent's MQTT clients (an MQTTPublisher
// given to Service.SetMQTT; Profile.{i}.MQTT.Reference names the client),
// encoded as JSON (ObjectHierarchy, NameValuePair) or CSV
// (ParameterPerRow, ParameterPerColumn).
//
// Profiles and their Parameter, encoding and HTTP sub-objects are stored
// objects of the Agent's engine, so they persist like any other stored
// table; the Service reads them again after every change. Each report's
// values are read with one Get of the engine. HTTP transfers are retried
// with the exponential back-off of HTTP.RetryMinimumWaitInterval and
// RetryIntervalMultiplier, and failed reports are kept, up to
// NumberOfRetainedFailedReports, to be sent with the next one.
//
//	m := schema.New()
//	agent.Define(m)
//	bulkdata.Define(m)
//	mux := datamodel.NewMux(m)
//	bd := bulkdata.New(nil)
//	bd.Register(mux)
//	a, _ := agent.New(ctx, agent.Options{Mux: mux, ...})
//	go bd.Run(ctx, a.Engine(), a.Emit)
package bulkdata
