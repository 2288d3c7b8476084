package agent

import (
	"context"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// DefineBroker adds to m the objects of an Agent that is a USP Broker:
// Device.UnixDomainSockets.UnixDomainSocket.{i} (the Broker's sockets) and
// Device.USPServices.USPService.{i} (the connected USP Services), as TR-181
// Device:2.16 defines them. Call it after Define; New serves them when the
// model has them.
func DefineBroker(m *schema.Model) {
	m.Define("Device.UnixDomainSockets.").
		Param("UnixDomainSocketNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.UnixDomainSockets.UnixDomainSocket.{i}.", schema.Keys("Path"), schema.AliasKey(), schema.NumEntries("UnixDomainSocketNumberOfEntries")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Mode", schema.String(schema.Enum("Listen", "Connect"))).
		Param("Path", schema.String(schema.MaxLen(4096)))
	m.Define("Device.USPServices.").
		Param("USPServiceNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.USPServices.USPService.{i}.", schema.Keys("EndpointID"), schema.NumEntries("USPServiceNumberOfEntries")).
		Param("EndpointID", schema.String()).
		Param("Protocol", schema.String(schema.Enum("WebSocket", "STOMP", "MQTT", "UDS")), schema.ReadWrite).
		Param("DataModelPaths", schema.String(schema.ListOf(1, 1024))).
		Param("DeploymentUnitRef", schema.String(schema.ListOf(0, 0), schema.Ref())).
		Param("HasController", schema.Boolean())
}

// registerBroker binds the Broker's objects when the model has them.
func (b *broker) registerBroker(mux *datamodel.Mux) {
	if mux.Model().Object("Device.USPServices.USPService.{i}.") == nil {
		return
	}
	mux.HandleFunc("Device.UnixDomainSockets.", serveEmpty)
	mux.HandleFunc("Device.UnixDomainSockets.UnixDomainSocket.{i}.", b.serveSockets)
	mux.HandleFunc("Device.USPServices.", serveEmpty)
	mux.HandleFunc("Device.USPServices.USPService.{i}.", b.serveServices)
}

// serveEmpty serves an object whose only parameters are entry counts,
// which the engine fills in.
func serveEmpty(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op != datamodel.OpGet {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s cannot be changed", r.Path)
	}
	return nil
}

// sockets lists the Broker's sockets, in instance order.
func (b *broker) sockets() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []string
	for _, p := range []string{b.opt.AgentSocket, b.opt.ControllerSocket} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (b *broker) serveSockets(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	socks := b.sockets()
	switch r.Op {
	case datamodel.OpList:
		for i := range socks {
			w.AddInstance(uint32(i + 1))
		}
		return nil
	case datamodel.OpGet:
	default:
		return usperr.Errorf(usperr.CodeRequestDenied, "the Broker's sockets are configured on the device")
	}
	n := int(r.Instances[len(r.Instances)-1])
	if n < 1 || n > len(socks) {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	for _, name := range r.Names {
		switch name {
		case "Alias":
			w.SetValue(name, "cpe-"+strconv.Itoa(n))
		case "Mode":
			w.SetValue(name, "Listen")
		case "Path":
			w.SetValue(name, socks[n-1])
		}
	}
	return nil
}

func (b *broker) serveServices(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	svcs := b.snapshot()
	switch r.Op {
	case datamodel.OpList:
		for _, s := range svcs {
			w.AddInstance(s.inst)
		}
		return nil
	case datamodel.OpGet:
	default:
		return usperr.Errorf(usperr.CodeRequestDenied, "USP Services are kept by the Broker")
	}
	n := r.Instances[len(r.Instances)-1]
	for _, s := range svcs {
		if s.inst != n {
			continue
		}
		for _, name := range r.Names {
			switch name {
			case "EndpointID":
				w.SetValue(name, s.eid)
			case "Protocol":
				w.SetValue(name, s.protocol)
			case "DataModelPaths":
				w.SetValue(name, strings.Join(s.paths, ","))
			case "DeploymentUnitRef":
				w.SetValue(name, s.du)
			case "HasController":
				// A USP Service's Controller uses the Service's Endpoint ID;
				// the Broker's Agent has heard from it.
				b.a.mu.Lock()
				_, heard := b.a.routes[s.eid]
				b.a.mu.Unlock()
				w.SetValue(name, strconv.FormatBool(heard))
			}
		}
		return nil
	}
	return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
}
