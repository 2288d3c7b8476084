// Package sim simulates fleets of light USP Agents for load tests: each
// Agent is one MTP connection and a small responder that answers Get,
// GetSupportedProtocol and any other request (with an Error), without a
// data-model engine, so that thousands fit in one process.
//
//	f, err := sim.Start(ctx, sim.Options{N: 10000, Dial: func(id string, o mtp.StateFunc) mtp.Transport { … }})
//	defer f.Close()
package sim
