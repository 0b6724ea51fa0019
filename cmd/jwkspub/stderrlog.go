package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/jwks"
)

// stderrLog writes what jwkspub itself says on stderr outside a command's logger: the final
// error of a failed run, the signals it got, a metrics file it could not write. In text it
// writes "jwkspub: ..." lines, as always; with --log-format json each message is one JSON log
// line like the command's own, so a log collector never meets a line it cannot parse.
type stderrLog struct {
	mu   sync.Mutex // the signal watcher writes from its own goroutine
	w    io.Writer
	json *slog.Logger // nil in text
}

func newStderrLog(w io.Writer, jsonLines bool) *stderrLog {
	l := &stderrLog{w: w}
	if jsonLines {
		l.json = slog.New(slog.NewJSONHandler(w, nil))
	}
	return l
}

// say writes one message: msg as a "jwkspub: " line in text, or a JSON line at level with
// attrs (which text leaves out: the message says it all).
func (l *stderrLog) say(level slog.Level, msg string, attrs ...slog.Attr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.json != nil {
		l.json.LogAttrs(context.Background(), level, msg, attrs...)
		return
	}
	fmt.Fprintf(l.w, "jwkspub: %s\n", msg)
}

// sayError reports the error that ends a run, with its exit code; the rotation guard's and
// the policy's refusals carry their violations, so a machine needs not parse the message.
func (l *stderrLog) sayError(err error, code int) {
	if l.json == nil {
		fmt.Fprintf(l.w, "jwkspub: %v\n", err)
		if code == exitUsage {
			fmt.Fprintln(l.w, "run 'jwkspub help' for usage")
		}
		return
	}
	attrs := []slog.Attr{slog.Int("exit_code", code)}
	var (
		ge *publish.GuardError
		pe *jwks.PolicyError
	)
	switch {
	case errors.As(err, &ge):
		attrs = append(attrs, slog.Any("violations", ge.Violations))
		if len(ge.Overridden) > 0 {
			attrs = append(attrs, slog.Any("overridden", ge.Overridden))
		}
	case errors.As(err, &pe):
		attrs = append(attrs, slog.Any("violations", policyViolations(pe)))
	case code == exitUsage:
		attrs = append(attrs, slog.String("help", "run 'jwkspub help' for usage"))
	}
	l.say(slog.LevelError, err.Error(), attrs...)
}

// policyViolation is a policy refusal's violation in JSON: where the key came from, the key,
// the rule broken, what is wrong and the fix.
type policyViolation struct {
	Source string `json:"source,omitempty"`
	Key    string `json:"key,omitempty"`
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

func policyViolations(pe *jwks.PolicyError) []policyViolation {
	out := make([]policyViolation, len(pe.Violations))
	for i, v := range pe.Violations {
		out[i] = policyViolation{Source: v.Origin.String(), Key: v.Key, Rule: v.Rule, Detail: v.Detail, Fix: v.Fix}
	}
	return out
}

// logFormatOf reads --log-format from the command line, else JWKSPUB_LOG_FORMAT, before the
// command parses its flags: the messages of a run that fails while parsing them, and of the
// signal watcher that starts before, must be JSON too. A flag's last occurrence wins, as in
// the parser; "--" ends the flags.
func logFormatOf(args []string, lookup func(string) (string, bool)) string {
	format := "text"
	if v, ok := lookup("JWKSPUB_LOG_FORMAT"); ok && v != "" {
		format = v
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "log-format" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				break
			}
			i++
			value = args[i]
		}
		format = value
	}
	return format
}
