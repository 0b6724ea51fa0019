// Command jwkspub publishes JSON Web Key Sets as static files. This package only turns flags,
// environment and the configuration file into options and calls packages sources and publish.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// interruptedCleanup bounds the cleanups of an interrupted run (revoking a Vault token).
const interruptedCleanup = 400 * time.Millisecond

func main() {
	os.Exit(runProcess(os.Args, env{stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv}))
}

// interruptGrace is how long jwkspub lets a command wind up after SIGINT or SIGTERM before it
// exits anyway. Canceling the context stops every read that watches it, but not a system call
// that blocks (opening a FIFO, writing to a pipe nobody reads, a stuck network file system):
// without this bound such a call kept the process alive until SIGKILL. It leaves room for the
// interrupted command's cleanups (interruptedCleanup) and still ends within a second.
const interruptGrace = 750 * time.Millisecond

// runProcess runs jwkspub as a process: the first SIGINT or SIGTERM cancels the command's
// context; the process then exits when the command returns, when interruptGrace has passed, or
// at a second signal, whichever comes first. An interrupted run exits 1, like any failed one.
func runProcess(args []string, e env) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	e.diag = newStderrLog(e.stderr, logFormatOf(args, e.lookup) == "json")
	go watchSignals(sigs, done, cancel, e.diag, interruptGrace, os.Exit)
	return run(ctx, args, e)
}

// watchSignals cancels the run at the first signal and calls exit if it has not ended (done)
// within grace or at a second signal.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel func(), stderr *stderrLog, grace time.Duration, exit func(int)) {
	var sig os.Signal
	select {
	case sig = <-sigs:
	case <-done:
		return
	}
	stderr.say(slog.LevelWarn, signalName(sig)+" received: stopping")
	cancel()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
		return
	case again := <-sigs:
		stderr.say(slog.LevelError, signalName(again)+" received again: exiting now")
	case <-timer.C:
		stderr.say(slog.LevelError, fmt.Sprintf("still blocked %v after %s (a system call the cancellation cannot interrupt): exiting now", grace, signalName(sig)))
	}
	exit(exitError)
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
