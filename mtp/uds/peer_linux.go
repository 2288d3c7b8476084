package uds

import (
	"fmt"
	"net"
	"syscall"

	"github.com/uspkit/uspkit/mtp"
)

// PeerPID returns the process ID of the client whose Handshake gave
// Endpoint ID eid, as the kernel recorded it when the client connected
// (SO_PEERCRED); a USP Broker uses it to tell which Execution Unit a USP
// Service runs in. It fails with mtp.ErrNoPeer when no such client is
// connected.
func (s *Server) PeerPID(eid string) (int, error) {
	s.mu.Lock()
	c := s.peers[eid]
	s.mu.Unlock()
	if c == nil {
		return 0, mtp.ErrNoPeer
	}
	uc, ok := c.nc.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("uds: %s: not a unix socket", eid)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("uds: %w", err)
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("uds: %w", err)
	}
	if cerr != nil {
		return 0, fmt.Errorf("uds: SO_PEERCRED: %w", cerr)
	}
	return int(cred.Pid), nil
}
