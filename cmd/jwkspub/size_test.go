package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64MiB", 64 << 20, true},
		{"1 GiB", 1 << 30, true},
		{"512KiB", 512 << 10, true},
		{"1000", 1000, true},
		{"", 0, true}, // the default
		{"0", 0, false},
		{"-1", 0, false},
		{"1.5MiB", 0, false},
		{"64MB", 0, false}, // decimal units are not taken: say what you mean in bytes or KiB/MiB/GiB
		{"9999999999GiB", 0, false},
		{"lots", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
