// Package service writes a USP Service (TR-369 "Software Modularization and
// USP-Enabled Applications"): a process that implements part of Device.
// with a datamodel.Mux, connects its Agent to the USP Broker's Controller
// socket over the Unix Domain Socket MTP, and Registers its paths there
// ([R-REG.0]–[R-REG.2]), again after every reconnection. The Broker then
// routes Controllers' requests on those paths to it.
//
// A Service may also have a Controller of its own (Options.AgentSocket):
// it connects to the Broker's Agent socket with the Service's Endpoint ID,
// which the Broker reports as HasController, and reads or changes the rest
// of the device through Service.Broker.
//
// The Service's Agent is an agent.Agent: it has Device.LocalAgent (which
// the Broker uses for subscriptions on the Service's paths), and trusts any
// Controller on the socket with full access, as the socket never leaves the
// device and installing the Service is what grants it access.
package service
