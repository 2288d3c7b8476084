package deviceinfo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Source says where one identity parameter's value comes from: exactly one
// of a literal, a file's first line, a UCI option or a command's first
// line of output. A vendor's platform keeps its serial number, OUI and
// model in such places (a factory partition, /etc/config, a board tool).
type Source struct {
	// Value is the value itself.
	Value string `yaml:"value"`
	// File is a file whose first line, trimmed, is the value
	// ("/sys/class/dmi/id/product_serial", "/tmp/sysinfo/model").
	File string `yaml:"file"`
	// UCI is an option of OpenWrt's UCI configuration,
	// "package.section.option" ("system.@system[0].hostname"), read from
	// UCIDir (/etc/config by default) without the uci tool.
	UCI string `yaml:"uci"`
	// Command is a program and its arguments whose first line of output,
	// trimmed, is the value; it runs without a shell, bounded by
	// CommandTimeout.
	Command []string `yaml:"command"`
}

// CommandTimeout bounds a Source's command.
const CommandTimeout = 10 * time.Second

// maxSourceRead bounds what is read of a Source's file or output.
const maxSourceRead = 64 << 10

// ErrSource is returned for a Source that names no place or more than one.
var ErrSource = errors.New("deviceinfo: a source has exactly one of value, file, uci or command")

// Check returns ErrSource unless exactly one of the fields is set.
func (s Source) Check() error {
	n := 0
	for _, set := range []bool{s.Value != "", s.File != "", s.UCI != "", len(s.Command) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return ErrSource
	}
	if s.UCI != "" {
		if _, err := parseUCIPath(s.UCI); err != nil {
			return err
		}
	}
	return nil
}

// Resolve reads the value; uciDir is the UCI configuration directory, ""
// meaning /etc/config.
func (s Source) Resolve(ctx context.Context, uciDir string) (string, error) {
	if err := s.Check(); err != nil {
		return "", err
	}
	switch {
	case s.Value != "":
		return s.Value, nil
	case s.File != "":
		f, err := os.Open(s.File)
		if err != nil {
			return "", fmt.Errorf("deviceinfo: %w", err)
		}
		defer f.Close()
		b := make([]byte, maxSourceRead)
		n, _ := f.Read(b)
		return firstLine(b[:n]), nil
	case s.UCI != "":
		if uciDir == "" {
			uciDir = "/etc/config"
		}
		v, err := ReadUCI(uciDir, s.UCI)
		if err != nil {
			return "", err
		}
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: maxSourceRead}
	cmd.WaitDelay = time.Second // a child left holding the output does not hold the Agent's start
	// ErrWaitDelay: the command succeeded, a child of its kept the output
	// open; what it printed is the value.
	if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return "", fmt.Errorf("deviceinfo: %s: %w", s.Command[0], err)
	}
	return firstLine(out.Bytes()), nil
}

// firstLine is b's first line without surrounding white space.
func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

// limitWriter keeps the first n bytes written and discards the rest.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// IdentityParams are the names of the identity parameters a Source may
// set, those of TR-181's Device.DeviceInfo.
var identityParams = []string{"Manufacturer", "ManufacturerOUI", "ModelName", "Description", "ProductClass", "SerialNumber", "HardwareVersion", "SoftwareVersion"}

// field returns the Info field of an identity parameter, or nil.
func (i *Info) field(name string) *string {
	switch name {
	case "Manufacturer":
		return &i.Manufacturer
	case "ManufacturerOUI":
		return &i.ManufacturerOUI
	case "ModelName":
		return &i.ModelName
	case "Description":
		return &i.Description
	case "ProductClass":
		return &i.ProductClass
	case "SerialNumber":
		return &i.SerialNumber
	case "HardwareVersion":
		return &i.HardwareVersion
	case "SoftwareVersion":
		return &i.SoftwareVersion
	}
	return nil
}

// CheckIdentity checks sources, keyed by parameter name, without reading
// them: each name is an identity parameter and each Source names one
// place.
func CheckIdentity(sources map[string]Source) error {
	var i Info
	for name, s := range sources {
		if i.field(name) == nil {
			return fmt.Errorf("deviceinfo: %q is not one of %s", name, strings.Join(identityParams, ", "))
		}
		if err := s.Check(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// Apply sets the identity parameters named in sources from them. A value
// that cannot be read, or that TR-181 would not take (longer than 64
// characters, 256 for Description; ManufacturerOUI not six upper-case
// hex digits), leaves the parameter as it was and is reported in the
// joined error; the others are set.
func (i *Info) Apply(ctx context.Context, sources map[string]Source, uciDir string) error {
	var errs []error
	for _, name := range identityParams {
		s, ok := sources[name]
		if !ok {
			continue
		}
		v, err := s.Resolve(ctx, uciDir)
		if err == nil {
			err = checkIdentity(name, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		*i.field(name) = v
	}
	for name := range sources {
		if i.field(name) == nil {
			errs = append(errs, fmt.Errorf("deviceinfo: %q is not one of %s", name, strings.Join(identityParams, ", ")))
		}
	}
	return errors.Join(errs...)
}

// checkIdentity applies Define's constraints on an identity parameter's
// value (TR-181 Device:2.16).
func checkIdentity(name, v string) error {
	max := 64
	if name == "Description" {
		max = 256
	}
	if len(v) > max {
		return fmt.Errorf("deviceinfo: %d characters, over %d", len(v), max)
	}
	if name == "ManufacturerOUI" {
		if len(v) != 6 || strings.Trim(v, "0123456789ABCDEF") != "" {
			return fmt.Errorf("deviceinfo: %q is not six upper-case hexadecimal digits", v)
		}
	}
	return nil
}
