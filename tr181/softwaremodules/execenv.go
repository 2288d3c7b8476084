package softwaremodules

import (
	"context"
	"errors"
	"io"
)

// ExecEnv is an Execution Environment: something that unpacks Deployment
// Units of one format and runs their Execution Units. The Manager calls
// its methods from several goroutines, but never two for the same
// directory at once.
type ExecEnv interface {
	// Info describes the environment for its ExecEnv.{i} row.
	Info() EnvInfo
	// Check reports why the environment cannot run anything (no
	// container runtime works, say), or nil.
	Check(ctx context.Context) error
	// Unpack reads the Deployment Unit file src and unpacks it into the
	// empty directory dir. A file of another format gives an error
	// wrapping ErrMismatch; a damaged one an error wrapping ErrCorrupt.
	Unpack(ctx context.Context, src, dir string) (Manifest, error)
	// Start runs the Execution Unit of the Deployment Unit unpacked in
	// u.Dir and returns once it runs (Status Active), or with the reason
	// it did not start.
	Start(ctx context.Context, u Unit) (Process, error)
}

// Resetter is an ExecEnv that can end units left running by an Agent that
// died (containers outlive the runtime process that started them); the
// Manager calls Reset at Start, before it starts any unit.
type Resetter interface {
	Reset(ctx context.Context) error
}

// EnvInfo is what an ExecEnv.{i} row shows of an environment.
type EnvInfo struct {
	// Name is unique among the Manager's environments ("OCI", "Process").
	Name string
	// Type is the kind of environment ("Linux Container", "Linux Process").
	Type    string
	Vendor  string
	Version string
}

// Capability is a Deployment Unit format an environment takes, for its
// ExecEnvClass.{i}.Capability.{i} row.
type Capability struct {
	// Specification is one of TR-181's: OCIImage, VMRawImage, OSGiBundle,
	// JAR, WAR.
	Specification        string
	SpecificationVersion string
	SpecificationURI     string
}

// Limiter is an ExecEnv that applies Unit.MemoryKiB and CPUPercent; the
// EUs of others show no limits.
type Limiter interface {
	AppliesLimits() bool
}

// Capable is an ExecEnv whose formats TR-181 names.
type Capable interface {
	Capabilities() []Capability
}

// Manifest is what a Deployment Unit says of itself.
type Manifest struct {
	Name        string
	Version     string
	Vendor      string
	Description string
}

// Unit is an Execution Unit to start.
type Unit struct {
	// ID is the EUID, unique on the device; environments derive names
	// (a container ID) from it.
	ID string
	// Dir is the Deployment Unit's unpacked directory.
	Dir string
	// Log receives the unit's standard output and error.
	Log io.Writer
	// MemoryKiB and CPUPercent are the limits the unit was given
	// (Resources.AllocatedMemory and AllocatedCPUPercent of InstallDU()
	// or Update()); 0 means none. Environments that cannot apply them
	// ignore them.
	MemoryKiB, CPUPercent int64
}

// Process is a running Execution Unit.
type Process interface {
	// Done is closed when the unit has ended.
	Done() <-chan struct{}
	// Err is why the unit ended (nil for exit status 0); valid after Done.
	Err() error
	// Stop asks the unit to end, kills it when ctx ends first, and waits
	// until it has ended.
	Stop(ctx context.Context) error
	// Usage returns the unit's resource use.
	Usage() Usage
}

// Usage is an Execution Unit's use of resources; -1 means unknown.
type Usage struct {
	MemoryKiB  int64
	CPUPercent int64
}

// Errors an ExecEnv's Unpack wraps.
var (
	// ErrMismatch: the file is not a Deployment Unit of this environment
	// (fault 7225).
	ErrMismatch = errors.New("softwaremodules: deployment unit does not match the execution environment")
	// ErrCorrupt: the file is damaged or unsafe (fault 7035).
	ErrCorrupt = errors.New("softwaremodules: deployment unit is corrupt")
)
