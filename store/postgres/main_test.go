package postgres_test

import (
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestMain checks for leaked goroutines. The PostgreSQL server the tests
// share starts on first use and stops when this process exits (see
// server_test.go).
func TestMain(m *testing.M) { testenv.Main(m) }
