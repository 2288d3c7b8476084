package mqtt_test

import (
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/mtptest"
)

// TestSuite runs the behaviour suite of every MTP over mosquitto: A and B
// are two clients with their own topics, A reaches B at B's topic and B
// answers at the "reply to" Topic A's PUBLISH carried (the Response Topic
// property on 5.0 [R-MQTT.23], [R-MQTT.26]; the "/reply-to=" convention
// on 3.1.1 [R-MQTT.24], [R-MQTT.25]). B keeps its session, made before the
// suite starts, so that the server queues what A sends while B is not
// subscribed yet or is being restarted.
func TestSuite(t *testing.T) {
	m := sharedMosquitto(t)
	for _, c := range []struct {
		name string
		v    mqtt.Version
		lis  listener
	}{
		{"v5/tcp", mqtt.V5, plain},
		{"v311/tcp", mqtt.V311, plain},
		{"v5/mutual-tls", mqtt.V5, mutualTLS},
		{"v311/tls", mqtt.V311, serverTLS},
		{"v5/password", mqtt.V5, password},
	} {
		t.Run(c.name, func(t *testing.T) {
			mtptest.Run(t, func(t *testing.T) *mtptest.Pair { return suitePair(t, m, c.v, c.lis) })
		})
	}
}

// suitePair is an mtptest.Pair of two clients of m; RestartB restarts
// B's client, which resumes its session.
func suitePair(t *testing.T, m *mosquitto, v mqtt.Version, lis listener) *mtptest.Pair {
	id := randID()
	ta, tb := "usp/test/"+id+"/a", "usp/test/"+id+"/b"
	oa, ob := m.options(t, v, lis, ta), m.options(t, v, lis, tb)
	ob.ClientID, ob.KeepSession, ob.SessionExpiry = "uspkit-b-"+id, true, time.Minute
	connectOnce(t, ob)
	b := mqtt.NewClient(ob)
	p := &mtptest.Pair{
		A: mqtt.NewClient(oa), B: b, AddrOfB: tb,
		Limit: mqtt.DefaultMaxRecord, Timeout: 20 * time.Second,
	}
	p.RestartB = func(t *testing.T) mtp.Transport {
		b.Close()
		b = mqtt.NewClient(ob)
		return b
	}
	return p
}
