package service_test

import (
	"context"
	"log"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/service"
)

// A USP Service exposing Device.X_VENDOR_Lamp. through the USP Broker: the
// object is defined, bound (stored here), registered and served.
func Example() {
	ctx := context.Background()
	m := schema.New()
	service.Define(m)
	m.Define("Device.X_VENDOR_Lamp.").Param("On", schema.Boolean(), schema.ReadWrite, schema.Default("false"))
	mux := datamodel.NewMux(m)
	mux.Store("Device.X_VENDOR_Lamp.", nil)
	svc, err := service.New(ctx, service.Options{EndpointID: "os::012345-lamp", Mux: mux,
		Paths: []string{"Device.X_VENDOR_Lamp."}, Socket: service.DefaultControllerSocket})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(svc.Run(ctx)) // connects, registers again after every reconnection
}

// A Service that is also a Controller of the Broker reads the rest of
// Device. through it.
func ExampleService_Broker() {
	ctx := context.Background()
	m := schema.New()
	service.Define(m)
	m.Define("Device.X_VENDOR_Topology.").Param("Hosts", schema.String())
	mux := datamodel.NewMux(m)
	mux.HandleFunc("Device.X_VENDOR_Topology.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		return nil
	})
	svc, err := service.New(ctx, service.Options{EndpointID: "os::012345-topology", Mux: mux, Paths: []string{"Device.X_VENDOR_Topology."},
		AgentSocket: service.DefaultAgentSocket})
	if err != nil {
		log.Fatal(err)
	}
	go svc.Run(ctx)
	<-svc.Broker().Connected()
	v, err := svc.Broker().Get(ctx, "Device.DeviceInfo.SerialNumber")
	if err != nil {
		log.Fatal(err)
	}
	log.Println(v["Device.DeviceInfo.SerialNumber"])
}
