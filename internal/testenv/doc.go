// Package testenv is for tests only: it starts real brokers on loopback
// ports, skips (or, in CI, fails) when an external one is missing, and
// checks that tests leave no goroutines behind. Non-test code never imports
// it (internal/archtest enforces that).
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestOverMosquitto(t *testing.T) {
//		addr := testenv.Mosquitto(t) // "127.0.0.1:port", stopped at cleanup
//		...
//	}
package testenv
