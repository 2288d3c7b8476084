//go:build !usp_device

package cli

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/conformance"
)

// bulkMQTTSubscriber returns how the runner watches the MQTT server at
// rawURL (tcp://, mqtt://, ssl://, tls:// or mqtts://host:port) for the
// Bulk Data reports of 10.13: an MQTT 5.0 connection of its own, with a
// ClientID of its own, so that the runner's USP connection is untouched.
// Every payload published on the topic is handed over, whatever its
// Content Type.
func bulkMQTTSubscriber(rawURL string, tc *tls.Config, user, pass string) conformance.MQTTSubscribeFunc {
	return func(ctx context.Context, topic string) (<-chan []byte, func(), error) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, nil, fmt.Errorf("mqtt url: %w", err)
		}
		d := net.Dialer{Timeout: 10 * time.Second}
		var nc net.Conn
		switch u.Scheme {
		case "tcp", "mqtt":
			nc, err = d.DialContext(ctx, "tcp", u.Host)
		case "ssl", "tls", "mqtts":
			c := &tls.Config{MinVersion: tls.VersionTLS12}
			if tc != nil {
				c = tc.Clone()
			}
			if c.ServerName == "" {
				c.ServerName = u.Hostname()
			}
			nc, err = (&tls.Dialer{NetDialer: &d, Config: c}).DialContext(ctx, "tcp", u.Host)
		default:
			return nil, nil, fmt.Errorf("mqtt url %q: scheme %q is not tcp or ssl", rawURL, u.Scheme)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("mqtt: %w", err)
		}
		out := make(chan []byte, 16)
		c := paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(p paho.PublishReceived) (bool, error) {
				if p.Packet.Topic == topic {
					select {
					case out <- append([]byte(nil), p.Packet.Payload...):
					default: // the case reads two; later ones are not needed
					}
				}
				return true, nil
			}}})
		id := make([]byte, 6)
		rand.Read(id)
		cp := &paho.Connect{ClientID: "uspkit-conformance-bulkdata-" + hex.EncodeToString(id), CleanStart: true, KeepAlive: 30}
		if user != "" {
			cp.Username, cp.UsernameFlag = user, true
			cp.Password, cp.PasswordFlag = []byte(pass), true
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if ca, err := c.Connect(cctx, cp); err != nil {
			nc.Close()
			if ca != nil {
				return nil, nil, fmt.Errorf("mqtt connect: reason code 0x%02x: %w", ca.ReasonCode, err)
			}
			return nil, nil, fmt.Errorf("mqtt connect: %w", err)
		}
		stop := func() {
			c.Disconnect(&paho.Disconnect{ReasonCode: 0})
			nc.Close()
		}
		if _, err := c.Subscribe(cctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
			stop()
			return nil, nil, fmt.Errorf("mqtt subscribe to %q: %w", topic, err)
		}
		return out, stop, nil
	}
}
