// Package testenv is for tests only: it starts real brokers on loopback
// ports, skips (or, in CI, fails) when an external one is missing, and
// checks that tests leave no goroutines behind. Non-test code never imports
// it (internal/archtest enforces that), and it imports no package of the
// module's transports or brokers, whose own tests import it.
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestOverMosquitto(t *testing.T) {
//		addr := testenv.Mosquitto(t) // "127.0.0.1:port", stopped at cleanup
//		...
//	}
//
// EachMTP runs one behaviour test over every USP MTP, describing each
// (protocol, broker address, MQTT version, TLS files) for the test to
// build both of its sides:
//
//	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
//		... configure the Agent and the Controller from m ...
//	})
//
// StartMosquitto and RabbitMQ brokers can be SIGKILLed and restarted on
// the same ports (MTP.Broker), for fault tests. StartMosquittoWith adds
// listeners (TLS without a client certificate, a password) and
// persistence; SharedMosquitto serves every test of a binary, like
// RabbitMQ.
package testenv
