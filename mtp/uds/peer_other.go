//go:build !linux

package uds

import "errors"

// PeerPID is not supported outside Linux.
func (s *Server) PeerPID(eid string) (int, error) {
	return 0, errors.New("uds: peer credentials need Linux")
}
