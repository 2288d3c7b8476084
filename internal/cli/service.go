//go:build !usp_device

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/service"
	"github.com/uspkit/uspkit/usperr"
)

// serviceConfig is the file `usp service --config` reads: an example USP
// Service exposing one object below Device.
type serviceConfig struct {
	EndpointID string `yaml:"endpoint_id"`
	LogLevel   string `yaml:"log_level"`
	// Socket is the Broker's Controller socket; "" means
	// /var/run/usp/broker_controller_path.
	Socket string `yaml:"socket"`
	// AgentSocket, when set, connects the Service's Controller to the
	// Broker's Agent socket too (HasController).
	AgentSocket string `yaml:"agent_socket"`
	// Object is the path of the example object; "" means
	// Device.X_USPKIT_Example.
	Object string `yaml:"object"`
	// Diagnostics makes the Service implement and register
	// Device.IP.Diagnostics. and Device.DNS.Diagnostics. too (the Broker's
	// usp_broker.leave_diagnostics leaves them to it).
	Diagnostics bool `yaml:"diagnostics"`
}

func loadServiceConfig(r io.Reader) (*serviceConfig, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var c serviceConfig
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := validateEndpointID(c.EndpointID); err != nil {
		return nil, fmt.Errorf("endpoint_id: %w", err)
	}
	if c.Object == "" {
		c.Object = "Device.X_USPKIT_Example."
	}
	if !strings.HasPrefix(c.Object, "Device.X_") || !strings.HasSuffix(c.Object, ".") || strings.Count(c.Object, ".") != 2 {
		return nil, fmt.Errorf("object: %q is not a vendor object directly below Device. (Device.X_VENDOR_Name.)", c.Object)
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	return &c, nil
}

func runService(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "service", "")
	config := fs.String("config", "", "configuration `file` (YAML)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *config == "" {
		return fmt.Errorf("%w: --config is required", errUsage)
	}
	b, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	cfg, err := loadServiceConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	m := schema.New()
	service.Define(m)
	mux := datamodel.NewMux(m)
	newExampleObject(cfg.Object).register(m, mux)
	paths := []string{cfg.Object}
	if cfg.Diagnostics {
		paths = append(paths, serviceDiagnostics(ctx, m, mux, log)...)
	}
	svc, err := service.New(ctx, service.Options{EndpointID: cfg.EndpointID, Mux: mux, Paths: paths,
		Socket: cfg.Socket, AgentSocket: cfg.AgentSocket, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "service %s ready\n", cfg.EndpointID)
	go func() {
		select {
		case <-svc.Registered():
			fmt.Fprintf(e.stdout, "service %s registered %s\n", cfg.EndpointID, strings.Join(paths, " "))
		case <-ctx.Done():
		}
	}()
	return svc.Run(ctx)
}

// exampleObject is the object `usp service` exposes: a Name, a Counter
// that Increment() raises, a table of Items, an asynchronous Wait() and a
// synchronous Pause().
type exampleObject struct {
	path    string
	mu      sync.Mutex
	name    string
	counter uint64
}

func newExampleObject(path string) *exampleObject { return &exampleObject{path: path, name: "example"} }

func (x *exampleObject) register(m *schema.Model, mux *datamodel.Mux) {
	m.Define(x.path).
		Param("Name", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Counter", schema.UnsignedLong()).
		Param("ItemNumberOfEntries", schema.UnsignedInt()).
		Command("Increment()", false, nil, []*schema.Param{schema.Arg("Counter", schema.UnsignedLong())}).
		Command("Wait()", true, []*schema.Param{schema.Arg("Milliseconds", schema.UnsignedInt(schema.Bounds("0", "600000")))},
			[]*schema.Param{schema.Arg("Waited", schema.UnsignedInt())}).
		Command("Pause()", false, []*schema.Param{schema.Arg("Milliseconds", schema.UnsignedInt(schema.Bounds("0", "600000")))},
			[]*schema.Param{schema.Arg("Waited", schema.UnsignedInt())})
	m.Define(x.path+"Item.{i}.", schema.ObjAddDelete, schema.Keys("Name"), schema.NumEntries("ItemNumberOfEntries")).
		Param("Name", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Value", schema.String(schema.MaxLen(256)), schema.ReadWrite)
	mux.Handle(x.path, x)
	mux.Store(x.path+"Item.{i}.", nil)
	mux.HandleFunc(x.path+"Increment()", x.increment)
	mux.HandleFunc(x.path+"Wait()", wait)
	mux.HandleFunc(x.path+"Pause()", wait)
}

// ServeUSP serves Name and Counter.
func (x *exampleObject) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch r.Op {
	case datamodel.OpGet:
		for _, n := range r.Names {
			switch n {
			case "Name":
				w.SetValue(n, x.name)
			case "Counter":
				w.SetValue(n, strconv.FormatUint(x.counter, 10))
			}
		}
	case datamodel.OpSet:
		if v, ok := r.Values["Name"]; ok && !r.CheckOnly {
			x.name = v
		}
	default:
		return usperr.Errorf(usperr.CodeRequestDenied, "%s: not supported", r.Op)
	}
	return nil
}

func (x *exampleObject) increment(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	x.mu.Lock()
	x.counter++
	c := x.counter
	x.mu.Unlock()
	w.SetValue("Counter", strconv.FormatUint(c, 10))
	return nil
}

func wait(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	ms, _ := strconv.ParseUint(r.Values["Milliseconds"], 10, 32)
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return usperr.Errorf(usperr.CodeCommandCanceled, "Wait() cancelled")
	}
	w.SetValue("Waited", strconv.FormatUint(ms, 10))
	return nil
}
