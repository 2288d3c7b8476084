package ipdiag

import (
	"context"
	"fmt"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
)

// EngineInterfaces returns an Options.InterfaceName that reads the Name
// parameter of the object an Interface argument names
// ("Device.IP.Interface.2." → "eth0") through the engine eng returns. When
// the data model does not support that object (no Device.IP.Interface in
// it), the argument is ignored and routing decides; an instance that does
// not exist, or has no Name, is an error. eng may return nil until the
// engine exists (the argument is then ignored too).
func EngineInterfaces(eng func() *datamodel.Engine) func(ctx context.Context, path string) (string, error) {
	return func(ctx context.Context, path string) (string, error) {
		e := eng()
		if e == nil {
			return "", nil
		}
		if !strings.HasSuffix(path, ".") {
			path += "."
		}
		if o := e.Model().Object(pattern(path)); o == nil || o.Param("Name") == nil {
			return "", nil // not supported here: routing decides
		}
		res := e.Get(ctx, datamodel.Caller{}, []string{path + "Name"}, 0)
		if len(res) != 1 {
			return "", fmt.Errorf("%sName: no result", path)
		}
		if err := res[0].Err; err != nil {
			return "", fmt.Errorf("%sName: %w", path, err)
		}
		if len(res[0].Objects) != 1 || res[0].Objects[0].Params["Name"] == "" {
			return "", fmt.Errorf("%s does not exist or has no Name", path)
		}
		return res[0].Objects[0].Params["Name"], nil
	}
}

// pattern turns an instantiated object path into its supported-object
// pattern ("Device.IP.Interface.2." → "Device.IP.Interface.{i}.").
func pattern(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			parts[i] = "{i}"
		}
	}
	return strings.Join(parts, ".")
}
