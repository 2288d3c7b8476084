// Package archtest holds a test that enforces the layering of
// docs/ARCHITECTURE.md: for each package, the uspkit packages (and a few
// third-party ones) it must not import, directly or through others, checked
// with `go list -deps`. It has no non-test code.
package archtest
