package testenv

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// TestMosquittoOptions checks the listeners MosquittoOptions add: TLS
// without a client certificate, and a password listener that refuses a
// wrong password and anonymous clients.
func TestMosquittoOptions(t *testing.T) {
	m := StartMosquittoWith(t, &MosquittoOptions{ServerTLS: true, User: "agent", Password: "s3cret:pass word"})
	files := m.Files
	serverOnly := clientTLS(t, &files)
	serverOnly.Certificates = nil
	if err := mqttConnect(m.ServerTLS, "5", serverOnly); err != nil {
		t.Errorf("ServerTLS without a client certificate: %v", err)
	}
	if err := mqttConnect(m.TLS, "5", serverOnly); err == nil {
		t.Error("TLS accepted a client without a certificate")
	}
	if m.Auth == "" {
		t.Skip("SKIP: no password listener (mosquitto_passwd not found)")
	}
	for _, tc := range []struct {
		user, pass string
		want       byte // CONNACK return code
	}{
		{"agent", "s3cret:pass word", 0},
		{"agent", "wrong", 5},
		{"", "", 5},
	} {
		if _, rc, err := mqtt311Connect(m.Auth, "testenv-auth", tc.user, tc.pass, true); err != nil || rc != tc.want {
			t.Errorf("user %q password %q: return code %d, %v; want %d", tc.user, tc.pass, rc, err, tc.want)
		}
	}
	if _, rc, err := mqtt311Connect(m.Plain, "testenv-anon", "", "", true); err != nil || rc != 0 {
		t.Errorf("Plain refuses an anonymous client: %d, %v", rc, err)
	}
}

// TestMosquittoPersist checks that with Persist a session survives Kill
// and Restart, and that without it the broker forgets it.
func TestMosquittoPersist(t *testing.T) {
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprint("persist=", persist), func(t *testing.T) {
			m := StartMosquittoWith(t, &MosquittoOptions{Persist: persist})
			if _, _, err := mqtt311Connect(m.Plain, "testenv-keep", "", "", false); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond) // autosave_interval is 1 s
			m.Kill(t)
			m.Restart(t)
			present, rc, err := mqtt311Connect(m.Plain, "testenv-keep", "", "", false)
			if err != nil || rc != 0 {
				t.Fatalf("return code %d, %v", rc, err)
			}
			if present != persist {
				t.Errorf("session present %v after Restart, want %v", present, persist)
			}
		})
	}
}

// TestSharedMosquitto checks that SharedMosquitto starts one broker per
// options and hands it out again.
func TestSharedMosquitto(t *testing.T) {
	a := SharedMosquitto(t, nil)
	if b := SharedMosquitto(t, &MosquittoOptions{}); b != a {
		t.Error("nil and zero options gave two brokers")
	}
	c := SharedMosquitto(t, &MosquittoOptions{ServerTLS: true})
	if c == a || c.ServerTLS == "" || a.ServerTLS != "" {
		t.Errorf("ServerTLS option: shared %p and %p, listeners %q and %q", a, c, a.ServerTLS, c.ServerTLS)
	}
	for _, addr := range []string{a.Plain, c.Plain} {
		if err := mqttConnect(addr, "3.1.1", nil); err != nil {
			t.Error(err)
		}
	}
}

// mqtt311Connect sends an MQTT 3.1.1 CONNECT, with a user name and
// password when user is not empty, and returns the CONNACK's session
// present flag and return code.
func mqtt311Connect(addr, clientID, user, pass string, clean bool) (present bool, rc byte, err error) {
	c, err := dialBroker(addr, nil)
	if err != nil {
		return false, 0, err
	}
	defer c.Close()
	flags := byte(0)
	if clean {
		flags |= 0x02
	}
	if user != "" {
		flags |= 0xc0
	}
	str := func(b []byte, s string) []byte { return append(append(b, byte(len(s)>>8), byte(len(s))), s...) }
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 30}
	body = str(body, clientID)
	if user != "" {
		body = str(str(body, user), pass)
	}
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		return false, 0, err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		return false, 0, fmt.Errorf("CONNACK from %s: %w", addr, err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		return false, 0, fmt.Errorf("CONNACK from %s: % x", addr, ack)
	}
	if _, err := c.Write([]byte{0xe0, 0}); err != nil { // DISCONNECT
		return false, 0, err
	}
	return ack[2]&1 == 1, ack[3], nil
}
