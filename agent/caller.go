package agent

import "github.com/uspkit/uspkit/datamodel"

// Caller returns the datamodel.Caller of the Controller with Endpoint ID
// id: its permissions from Device.LocalAgent.ControllerTrust, for work the
// Agent does on that Controller's behalf (a Bulk Data profile's
// collection, TR-369 Annex A). It is safe for concurrent use.
func (a *Agent) Caller(id string) datamodel.Caller { return a.caller(id) }
