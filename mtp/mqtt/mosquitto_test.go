package mqtt_test

import (
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// mosquitto is a broker of testenv with the listeners the tests use:
// plaintext, mutual TLS, TLS with a server certificate only, and
// plaintext with a password (Auth, empty without mosquitto_passwd).
type mosquitto struct {
	*testenv.MosquittoServer
	// User and Password are accepted on Auth.
	User, Password string
}

// mosquittoOptions returns the options of the tests' brokers.
func mosquittoOptions(persist bool) *testenv.MosquittoOptions {
	return &testenv.MosquittoOptions{ServerTLS: true, User: "agent", Password: "s3cret:pass word", Persist: persist}
}

// sharedMosquitto returns the broker that the tests of this binary which
// do not kill it share: started on first use (a fuzzing run starts none),
// killed by PID when the test process exits. It skips the test when
// mosquitto is not installed.
func sharedMosquitto(t testing.TB) *mosquitto {
	t.Helper()
	o := mosquittoOptions(false)
	return &mosquitto{testenv.SharedMosquitto(t, o), o.User, o.Password}
}

// newMosquitto starts a broker of the test's own, killed at its end;
// persist keeps sessions and queued messages on disk across restarts.
func newMosquitto(t testing.TB, persist bool) *mosquitto {
	t.Helper()
	o := mosquittoOptions(persist)
	return &mosquitto{testenv.StartMosquittoWith(t, o), o.User, o.Password}
}
