package main

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWatchSignals: the first signal cancels the run; the process is then ended by the run's
// own return, or by a second signal or the grace period, whichever comes first.
func TestWatchSignals(t *testing.T) {
	tests := []struct {
		name     string
		signals  []os.Signal
		finish   bool // the run returns after the cancel
		grace    time.Duration
		wantExit bool
		want     string
	}{
		{name: "the run returns", signals: []os.Signal{syscall.SIGTERM}, finish: true, grace: time.Hour, want: "jwkspub: SIGTERM received: stopping\n"},
		{name: "a second signal", signals: []os.Signal{syscall.SIGTERM, os.Interrupt}, grace: time.Hour, wantExit: true, want: "SIGINT received again: exiting now"},
		{name: "the run stays blocked", signals: []os.Signal{os.Interrupt}, grace: time.Millisecond, wantExit: true, want: "still blocked 1ms after SIGINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 2)
			for _, s := range tt.signals {
				sigs <- s
			}
			done, canceled, exited := make(chan struct{}), make(chan struct{}), make(chan int, 1)
			var stderr bytes.Buffer
			returned := make(chan struct{})
			go func() {
				defer close(returned)
				watchSignals(sigs, done, func() {
					close(canceled)
					if tt.finish {
						close(done)
					}
				}, newStderrLog(&stderr, false), tt.grace, func(code int) { exited <- code })
			}()
			<-returned
			select {
			case <-canceled:
			default:
				t.Error("the run was not canceled")
			}
			select {
			case code := <-exited:
				if !tt.wantExit || code != exitError {
					t.Errorf("exit(%d), want exit: %v", code, tt.wantExit)
				}
			default:
				if tt.wantExit {
					t.Error("no exit")
				}
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.want)
			}
		})
	}
	// No signal: the watcher leaves when the run ends.
	done := make(chan struct{})
	close(done)
	watchSignals(make(chan os.Signal), done, func() { t.Error("canceled without a signal") }, newStderrLog(&bytes.Buffer{}, false), time.Millisecond, func(int) { t.Error("exit without a signal") })
}
