package ipdiag_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/ipdiag"
)

// syncBuf is a log sink tests read.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	eng *datamodel.Engine
	d   *ipdiag.Diag
	log *syncBuf
}

func newFixture(t testing.TB, opt *ipdiag.Options) *fixture {
	t.Helper()
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.IP.")
	m.Define("Device.IP.Interface.{i}.", schema.ObjAddDelete).Param("Name", schema.String(), schema.ReadWrite)
	ipdiag.Define(m)
	mux := datamodel.NewMux(m)
	mux.Store("Device.IP.Interface.{i}.", nil)
	f := &fixture{log: &syncBuf{}}
	if opt == nil {
		opt = &ipdiag.Options{}
	}
	if opt.InterfaceName == nil { // Device.IP.Interface.1. is the loopback interface
		opt.InterfaceName = ipdiag.EngineInterfaces(func() *datamodel.Engine { return f.eng })
	}
	opt.Log = slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opt.TracePort == 0 {
		opt.TracePort = 40000 + int(time.Now().UnixNano()%5000)
	}
	f.d = ipdiag.New(opt)
	f.d.Register(mux)
	t.Cleanup(func() { f.d.Close() })
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.eng = eng
	if _, err := eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.IP.Interface.",
		Params: []datamodel.ParamSetting{{Param: "Name", Value: "lo"}}}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// run operates cmd with input and waits for its outcome.
func (f *fixture) run(t testing.TB, ctx context.Context, cmd string, input map[string]string) (map[string]string, error) {
	t.Helper()
	res, err := f.eng.Operate(ctx, datamodel.Caller{}, cmd, "k", input)
	if err != nil {
		t.Fatalf("Operate %s: %v", cmd, err)
	}
	if len(res) != 1 {
		t.Fatalf("Operate %s: %d results", cmd, len(res))
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	if res[0].Async == nil {
		t.Fatalf("%s is not asynchronous", cmd)
	}
	return res[0].Async(ctx)
}

// mustRun is run for a command that must complete, with every output
// argument checked against its TR-181 type.
func (f *fixture) mustRun(t testing.TB, cmd string, input map[string]string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := f.run(t, ctx, cmd, input)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	c := f.eng.Model().Command(cmd)
	for name, v := range out {
		var p *schema.Param
		for _, a := range c.Output {
			if a.Name == name || argMatches(a.Name, name) {
				p = a
			}
		}
		if p == nil {
			t.Errorf("%s: output %s is not in the data model", cmd, name)
			continue
		}
		if err := p.Type.Validate(v); err != nil {
			t.Errorf("%s: output %s = %q: %v", cmd, name, v, err)
		}
	}
	return out
}

func argMatches(pattern, name string) bool {
	pi, ni := 0, 0
	for pi < len(pattern) && ni < len(name) {
		if pattern[pi:] != "" && len(pattern[pi:]) >= 3 && pattern[pi:pi+3] == "{i}" {
			j := ni
			for j < len(name) && name[j] >= '0' && name[j] <= '9' {
				j++
			}
			if j == ni {
				return false
			}
			pi, ni = pi+3, j
			continue
		}
		if pattern[pi] != name[ni] {
			return false
		}
		pi++
		ni++
	}
	return pi == len(pattern) && ni == len(name)
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
