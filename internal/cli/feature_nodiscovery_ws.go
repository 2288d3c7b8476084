//go:build usp_nodiscovery && !usp_nows

package cli

import "context"

// resolveLocal, without mDNS (usp_nodiscovery), leaves every name to the
// system resolver; the WebSocket client asks it (localws.go).
func (*dialer) resolveLocal(_ context.Context, host string) (string, error) { return host, nil }
