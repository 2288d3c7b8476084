package cli

// linkVersion is the release version set at link time
// (go build -ldflags "-X github.com/uspkit/uspkit/internal/cli.linkVersion=1.2.3");
// when set, buildVersion reports it, and with it Device.DeviceInfo.SoftwareVersion
// and the version a firmware image's `usp version` announces. It is never
// written at run time.
var linkVersion string
