package mqtt_test

import (
	"os"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestMain checks for leaked goroutines. The mosquitto the tests share is
// started on first use and killed by PID when this process exits (see
// testenv.SharedMosquitto).
//
// Under -fuzz the leak check is skipped: the fuzzing engine leaves its
// os/signal goroutine running, which testenv.Main reports as a leak.
func TestMain(m *testing.M) {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz=") && a != "-test.fuzz=" || strings.HasPrefix(a, "-test.fuzzworker") {
			os.Exit(m.Run())
		}
	}
	testenv.Main(m)
}
