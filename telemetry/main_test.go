package telemetry_test

import (
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
