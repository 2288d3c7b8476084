// Package controller is a USP Controller runtime: it serves MTPs, keeps a
// registry of the Agents it hears from, correlates requests and responses
// by msg_id with many requests in flight per Agent, queues requests for
// offline Agents durably until they connect (or the request expires),
// stores every Notify before acknowledging it, and publishes events to
// subscribers.
//
//	c, err := controller.New(ctx, controller.Options{EndpointID: "proto::ctrl", Store: db,
//		MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv}}})
//	go c.Run(ctx)
//	resp, err := c.Do(ctx, "os::012345-CPE1", getRequest)
//
// Its methods are the only way in; the REST API (controller/api) and the
// CLI are built on them.
package controller
