package bulkdata_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// printPublisher stands for the Agent's MQTT clients: it prints what it
// would publish.
type printPublisher struct {
	once *sync.Once
	done chan struct{}
}

func (printPublisher) MQTTAvailable() bool { return true }

func (p printPublisher) PublishMQTT(ctx context.Context, client string, m bulkdata.MQTTMessage) error {
	p.once.Do(func() {
		fmt.Printf("%s publishes on %s at QoS %d: %s\n", client, m.Topic, m.QoS, m.ContentType)
		close(p.done)
	})
	return nil
}

func ExampleService_SetMQTT() {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.DeviceInfo.").Param("UpTime", schema.UnsignedInt())
	bulkdata.Define(m)
	mux := datamodel.NewMux(m)
	mux.HandleFunc("Device.DeviceInfo.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		w.SetValue("UpTime", "42")
		return nil
	})
	bd := bulkdata.New(nil)
	pub := printPublisher{once: new(sync.Once), done: make(chan struct{})}
	bd.SetMQTT(pub)
	bd.Register(mux)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng, err := datamodel.New(ctx, mux, datamodel.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	go bd.Run(ctx, eng, nil)
	res := eng.Get(ctx, datamodel.Caller{}, []string{"Device.BulkData.Protocols"}, 0)
	fmt.Println(res[0].Objects[0].Params["Protocols"])
	set := func(kv ...string) []datamodel.ParamSetting {
		var ps []datamodel.ParamSetting
		for i := 0; i < len(kv); i += 2 {
			ps = append(ps, datamodel.ParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
		}
		return ps
	}
	add, err := eng.Add(ctx, datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.BulkData.Profile.", Params: set(
		"Enable", "true", "Protocol", "MQTT", "EncodingType", "JSON", "ReportingInterval", "1",
		"MQTT.Reference", "Device.MQTT.Client.1", "MQTT.PublishTopic", "bulkdata/reports", "MQTT.PublishQoS", "1")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := eng.Add(ctx, datamodel.Caller{}, false, []datamodel.CreateObject{{Path: add[0].Path + "Parameter.",
		Params: set("Reference", "Device.DeviceInfo.UpTime")}}); err != nil {
		fmt.Println(err)
		return
	}
	<-pub.done
	// Output:
	// HTTP,MQTT,USPEventNotif
	// Device.MQTT.Client.1 publishes on bulkdata/reports at QoS 1: application/json; charset=UTF-8
}
