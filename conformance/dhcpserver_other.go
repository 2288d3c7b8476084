//go:build !linux

package conformance

import (
	"context"
	"errors"
	"net"
)

// listenDHCP needs Linux's SO_BINDTODEVICE.
func listenDHCP(context.Context, string) (net.PacketConn, error) {
	return nil, errors.New("conformance: the DHCP server runs on Linux only")
}
