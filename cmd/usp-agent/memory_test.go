package main

import "testing"

func TestMemoryDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want memorySettings
	}{
		{"Unset", nil, memorySettings{GCPercent: gcPercent, MemoryLimit: memoryLimit}},
		{"GOGCSet", map[string]string{"GOGC": "100"}, memorySettings{GCPercent: -1, MemoryLimit: memoryLimit}},
		{"GOMEMLIMITSet", map[string]string{"GOMEMLIMIT": "64MiB"}, memorySettings{GCPercent: gcPercent, MemoryLimit: -1}},
		{"BothSet", map[string]string{"GOGC": "off", "GOMEMLIMIT": "64MiB"}, memorySettings{GCPercent: -1, MemoryLimit: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := memoryDefaults(func(k string) string { return tc.env[k] })
			if got != tc.want {
				t.Errorf("memoryDefaults(%v) = %+v (%s), want %+v", tc.env, got, got, tc.want)
			}
		})
	}
}
