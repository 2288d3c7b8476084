package mqtt_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestOptionsCheck checks that Serve refuses bad Options at once, without
// connecting.
func TestOptionsCheck(t *testing.T) {
	good := mqtt.Options{URL: "tcp://127.0.0.1:1", EndpointID: "proto::a", Topic: "usp/a"}
	for _, tc := range []struct {
		name string
		edit func(o *mqtt.Options)
		want string
	}{
		{"no URL", func(o *mqtt.Options) { o.URL = "" }, "URL is required"},
		{"bad scheme", func(o *mqtt.Options) { o.URL = "http://h" }, "scheme"},
		{"no host", func(o *mqtt.Options) { o.URL = "tcp://:1883" }, "no host"},
		{"bad URL", func(o *mqtt.Options) { o.URL = "tcp://h:x:y" }, "URL"},
		{"TLS with tcp", func(o *mqtt.Options) { o.TLS = &tls.Config{} }, "TLS given"},
		{"no endpoint ID", func(o *mqtt.Options) { o.EndpointID = "" }, "EndpointID"},
		{"wildcard topic", func(o *mqtt.Options) { o.Topic = "usp/+" }, "not a topic name"},
		{"v311 without topic", func(o *mqtt.Options) { o.Version, o.Topic = mqtt.V311, "" }, "required for MQTT 3.1.1"},
		{"unknown version", func(o *mqtt.Options) { o.Version = 4 }, "unknown"},
		{"bad subscription", func(o *mqtt.Options) { o.Subscriptions = []string{"a/#/b"} }, "not a topic filter"},
		{"bad default peer", func(o *mqtt.Options) { o.DefaultPeerTopic = "a/#" }, "DefaultPeerTopic"},
		{"bad QoS", func(o *mqtt.Options) { o.PublishQoS = 9 }, "QoS"},
		{"bad subscription QoS", func(o *mqtt.Options) { o.SubscriptionQoS = map[string]mqtt.QoS{"a": 9} }, "QoS over 2"},
		{"keep-alive too long", func(o *mqtt.Options) { o.KeepAlive = 24 * time.Hour }, "range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			err := mqtt.NewClient(&o).Serve(context.Background(), newInbox())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Serve = %v, want an error with %q", err, tc.want)
			}
		})
	}
	if err := mqtt.NewClient(nil).Serve(context.Background(), newInbox()); err == nil {
		t.Fatal("Serve with nil Options succeeded")
	}
}

// TestServeTwice checks that a second Serve fails and that Serve after
// Close returns nil at once.
func TestServeTwice(t *testing.T) {
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://127.0.0.1:1", EndpointID: "proto::a", Topic: "usp/a",
		MinWait: time.Hour})
	serve(t, c, newInbox())
	time.Sleep(20 * time.Millisecond)
	if err := c.Serve(context.Background(), newInbox()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("second Serve = %v", err)
	}
	c2 := mqtt.NewClient(&mqtt.Options{URL: "tcp://127.0.0.1:1", EndpointID: "proto::a", Topic: "usp/a"})
	c2.Close()
	if err := c2.Serve(context.Background(), newInbox()); err != nil {
		t.Fatalf("Serve after Close = %v", err)
	}
}
