package main

import "testing"

func TestLogFormatOf(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"jwkspub", "diff"}, "", "text"},
		{[]string{"jwkspub", "diff"}, "json", "json"},
		{[]string{"jwkspub", "diff", "--log-format", "json"}, "", "json"},
		{[]string{"jwkspub", "diff", "--log-format=json"}, "", "json"},
		{[]string{"jwkspub", "diff", "-log-format", "json"}, "", "json"},
		{[]string{"jwkspub", "diff", "--log-format", "text"}, "json", "text"},
		{[]string{"jwkspub", "diff", "--log-format=json", "--log-format=text"}, "", "text"},
		{[]string{"jwkspub", "diff", "--log-format"}, "", "text"},
		{[]string{"jwkspub", "diff", "--", "--log-format=json"}, "", "text"},
		{[]string{"jwkspub", "diff", "--log-level", "json"}, "", "text"},
		{[]string{"jwkspub", "diff", "--set", "log-format", "json"}, "", "text"},
	} {
		lookup := func(k string) (string, bool) {
			if k == "JWKSPUB_LOG_FORMAT" && tt.env != "" {
				return tt.env, true
			}
			return "", false
		}
		if got := logFormatOf(tt.args, lookup); got != tt.want {
			t.Errorf("logFormatOf(%q, env %q) = %q, want %q", tt.args, tt.env, got, tt.want)
		}
	}
}
