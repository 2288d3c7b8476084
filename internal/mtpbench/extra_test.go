package mtpbench_test

import (
	"context"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// extraMTPs are the MQTT pairs: through the embedded broker and through
// mosquitto, MQTT 5 and 3.1.1.
func extraMTPs(t *testing.T) []pair {
	brk, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := brk.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { brk.Close() })
	mq := testenv.Mosquitto(t)
	client := func(url string, v mqtt.Version, id, topic string) *mqtt.Client {
		return mqtt.NewClient(&mqtt.Options{URL: url, Version: v, EndpointID: id, Topic: topic, MinWait: 50 * time.Millisecond})
	}
	var out []pair
	for _, b := range []struct{ name, url string }{{"embedded broker", "tcp://" + brk.Addrs().TCP}, {"mosquitto", "tcp://" + mq}} {
		for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
			out = append(out, pair{name: "MQTT " + v.String() + " via " + b.name, a: client(b.url, v, "proto::a", "bench/a/"+v.String()),
				b: client(b.url, v, "proto::b", "bench/b/"+v.String()), addrOfB: "bench/b/" + v.String()})
		}
	}
	return out
}
