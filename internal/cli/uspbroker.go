package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/service"
)

// uspBrokerConfig is the usp_broker section of `usp agent`: the Agent is a
// USP Broker, with the two Unix domain sockets of TR-369's software
// modularization appendix.
type uspBrokerConfig struct {
	// ControllerSocket is where USP Services' Agents connect and Register;
	// "" means /var/run/usp/broker_controller_path.
	ControllerSocket string `yaml:"controller_socket"`
	// AgentSocket is where USP Services' Controllers connect to the
	// Agent; "" means /var/run/usp/broker_agent_path.
	AgentSocket string `yaml:"agent_socket"`
	// Timeout bounds each request proxied to a Service ("30s" by default).
	Timeout time.Duration `yaml:"timeout"`
	// LeaveDiagnostics leaves Device.IP.Diagnostics and
	// Device.DNS.Diagnostics to a USP Service (`usp service` with
	// diagnostics: true): the Broker does not implement them, so that the
	// Service may register them.
	LeaveDiagnostics bool `yaml:"leave_diagnostics"`
}

// ownDiagnostics reports whether usp agent implements the diagnostics
// objects itself; when it leaves them to a Service it defines only their
// parents, Device.IP. and Device.DNS., so that the supported data model
// has the objects above what the Service registers.
func (c *uspBrokerConfig) ownDiagnostics(m *schema.Model) bool {
	if c == nil || !c.LeaveDiagnostics {
		return true
	}
	for _, p := range []string{"Device.IP.", "Device.DNS."} {
		if m.Object(p) == nil {
			m.Define(p)
		}
	}
	return false
}

// define adds the Broker's objects to m when the Agent is a Broker.
func (c *uspBrokerConfig) define(m *schema.Model) {
	if c == nil {
		return
	}
	if c.ControllerSocket == "" {
		c.ControllerSocket = service.DefaultControllerSocket
	}
	if c.AgentSocket == "" {
		c.AgentSocket = service.DefaultAgentSocket
	}
	agent.DefineBroker(m)
}

// agentMTP is the Agent socket, served as a fixed MTP of the Agent; none
// when the Agent is not a Broker.
func (c *uspBrokerConfig) agentMTP(self string, onState func(string) mtp.StateFunc, log *slog.Logger) []agent.MTP {
	if c == nil {
		return nil
	}
	_ = os.MkdirAll(filepath.Dir(c.AgentSocket), 0o755)
	srv := uds.NewServer(&uds.Options{Path: c.AgentSocket, EndpointID: self, OnState: onState("UDS"), Logger: log})
	return []agent.MTP{{Protocol: "UDS", Transport: srv, Connect: func(to string) *record.Record { return record.NewUDSConnect(to, self) }}}
}

// start serves the Controller socket until the returned stop is called.
// du names the Deployment Unit whose Execution Unit runs a process, for
// the USPService rows' DeploymentUnitRef: the Broker matches the process
// on the other end of a Service's socket (SO_PEERCRED) with the units'.
func (c *uspBrokerConfig) start(ctx context.Context, a *agent.Agent, du func(pid int) string, log *slog.Logger) (stop func()) {
	if c == nil {
		return func() {}
	}
	_ = os.MkdirAll(filepath.Dir(c.ControllerSocket), 0o755)
	srv := uds.NewServer(&uds.Options{Path: c.ControllerSocket, EndpointID: a.EndpointID(), OnState: a.ServiceState, Logger: log})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.ServeServices(ctx, agent.BrokerOptions{Transport: srv, ControllerSocket: c.ControllerSocket, AgentSocket: c.AgentSocket, Timeout: c.Timeout,
			DeploymentUnit: func(ctx context.Context, eid string) string {
				pid, err := srv.PeerPID(eid)
				if err != nil {
					log.DebugContext(ctx, "usp broker: the process of a usp service", "endpoint", eid, "err", err)
					return ""
				}
				return du(pid)
			}}); err != nil {
			log.Error("usp broker stopped", "err", err)
		}
	}()
	log.Info("usp broker", "controller_socket", c.ControllerSocket, "agent_socket", c.AgentSocket)
	return func() { cancel(); srv.Close(); <-done }
}

// deploymentUnitOf is the Deployment Unit whose Execution Unit runs
// process pid; "" for none, and always without Software Module
// Management.
func (s *software) deploymentUnitOf(pid int) string {
	if s == nil || s.m == nil {
		return ""
	}
	return s.m.DeploymentUnitOf(pid)
}
