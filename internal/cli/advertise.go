//go:build !usp_device

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/uspkit/uspkit/discovery"
)

// advertiseConfig is the `advertise:` section of `usp controller`'s file:
// mDNS advertisement of the Controller's MTPs as _usp-ctr-ws._tcp,
// _usp-ctr-mqtt._tcp and _usp-ctr-stomp._tcp, so that Agents on the link
// that browse find it.
type advertiseConfig struct {
	// Interface is the network interface for mDNS; "" means every
	// multicast interface that is up.
	Interface string `yaml:"interface"`
	// Port is the mDNS port; 0 means 5353.
	Port int `yaml:"port"`
	// URLs are the MTPs to advertise, as ws://host:port/path,
	// mqtt://broker:port/topic or stomp://server:port/destination (wss,
	// mqtts and stomps for encrypted ones); empty means the Controller's
	// own: its WebSocket server, and the topic and destination it
	// subscribes to at each broker [R-MQTT.37] [R-STOMP.31].
	URLs []string `yaml:"urls"`
}

func (c *advertiseConfig) check() error {
	if c == nil {
		return nil
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("advertise.port: %d is not a port", c.Port)
	}
	for i, u := range c.URLs {
		e, err := discovery.ParseControllerURL(u)
		if err == nil && e.Protocol == "" {
			err = errors.New("no scheme")
		}
		if err != nil {
			return fmt.Errorf("advertise.urls[%d]: %w", i, err)
		}
	}
	return nil
}

// controllerServices are the DNS-SD services of a Controller's MTPs, given
// as URLs; a host that is an address, or a wildcard, is advertised with the
// addresses of the interface answering.
func controllerServices(id string, urls []string) ([]discovery.Service, error) {
	var out []discovery.Service
	for _, u := range urls {
		e, err := discovery.ParseControllerURL(u)
		if err != nil {
			return nil, err
		}
		if e.Protocol == "" {
			return nil, fmt.Errorf("%s: no scheme", u)
		}
		s := discovery.Service{Instance: id, Type: discovery.ServiceType(true, e.Protocol), Host: e.Host, Port: e.Port, Path: e.Path, Encrypt: e.Encrypt}
		if s.Host == "0.0.0.0" || s.Host == "::" {
			s.Host = ""
		}
		out = append(out, s)
	}
	return out, nil
}

// startAdvertise advertises a Controller's MTPs until ctx is done or the
// returned function is called.
func startAdvertise(ctx context.Context, c *advertiseConfig, id string, own []string, log *slog.Logger) (func(), error) {
	if c == nil {
		return func() {}, nil
	}
	urls := c.URLs
	if len(urls) == 0 {
		urls = own
	}
	svcs, err := controllerServices(id, urls)
	if err != nil {
		return nil, fmt.Errorf("advertise: %w", err)
	}
	if len(svcs) == 0 {
		log.Warn("advertise: the controller has no MTP to advertise")
		return func() {}, nil
	}
	r, err := discovery.Advertise(ctx, &discovery.Options{Interface: c.Interface, Port: c.Port, Logger: log}, svcs...)
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		log.Info("mdns: advertising", "service", s.InstanceName(), "host", s.Host, "port", s.Port, "path", s.Path)
	}
	return func() { r.Close() }, nil
}

// controllerURLs are the URLs of a Controller's own MTPs that DNS-SD can
// express: its WebSocket servers (their listening address), and the topic
// and destination it subscribes to at each MQTT broker (over TCP or TLS)
// and STOMP server [R-MQTT.37] [R-STOMP.31].
func controllerURLs(cfg *controllerConfig, built []builtMTP) []string {
	byName := map[string]*ctrlMTPConfig{}
	for i := range cfg.MTPs {
		byName[cfg.MTPs[i].Name] = &cfg.MTPs[i]
	}
	var out []string
	for _, b := range built {
		mc := byName[b.m.Name]
		switch {
		case b.m.Protocol == "WebSocket" && (strings.HasPrefix(b.addr, "ws://") || strings.HasPrefix(b.addr, "wss://")):
			out = append(out, b.addr)
		case b.m.Protocol == "MQTT" && mc != nil && mc.Topic != "":
			u, err := url.Parse(mc.URL)
			if err != nil {
				continue
			}
			scheme := map[string]string{"tcp": "mqtt", "mqtt": "mqtt", "ssl": "mqtts", "tls": "mqtts", "mqtts": "mqtts"}[u.Scheme]
			if scheme == "" {
				continue // MQTT over WebSocket has no DNS-SD form here
			}
			out = append(out, scheme+"://"+u.Host+"/"+strings.TrimPrefix(mc.Topic, "/"))
		case b.m.Protocol == "STOMP" && mc != nil && mc.Destination != "":
			scheme := "stomp"
			if mc.TLS != nil {
				scheme = "stomps"
			}
			out = append(out, scheme+"://"+mc.Addr+"/"+strings.TrimPrefix(mc.Destination, "/"))
		}
	}
	return out
}
