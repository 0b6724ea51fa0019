// Command benchrun measures `jwkspub build` against the bare standard-library loop
// (internal/benchloop) on the benchmark corpus (internal/benchcorpus), side by side in one
// run: the two programs alternate, so both see the same machine load. For each it reports the
// median CPU time (user + system, from wait4's rusage, in microseconds), the median wall time
// and the largest peak RSS over the runs, then the ratio, as a Markdown table. It also checks
// that both wrote a set with the same kids, so the ratio compares equal work.
//
// Usage: benchrun -jwkspub BIN -loop BIN -dir CORPUS [-runs 11]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

type sample struct {
	cpu, wall time.Duration
	rssKB     int64
}

func main() {
	jwkspub := flag.String("jwkspub", "", "jwkspub binary")
	loop := flag.String("loop", "", "benchloop binary")
	dir := flag.String("dir", "", "corpus directory (holds jwkspub.yaml and keys/)")
	runs := flag.Int("runs", 11, "runs of each program")
	flag.Parse()
	if *jwkspub == "" || *loop == "" || *dir == "" || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: benchrun -jwkspub BIN -loop BIN -dir CORPUS [-runs N]")
		os.Exit(64)
	}
	if err := run(*jwkspub, *loop, *dir, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run(jwkspub, loop, dir string, runs int) error {
	tmp, err := os.MkdirTemp("", "benchrun-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	buildOut, loopOut := filepath.Join(tmp, "build.json"), filepath.Join(tmp, "loop.json")
	cmds := []struct {
		name string
		args []string
	}{
		{"bare stdlib loop (internal/benchloop)", []string{loop, "-glob", "keys/*.pem", "-o", loopOut}},
		{"jwkspub build, every check on", []string{jwkspub, "build", "--config", "jwkspub.yaml", "-o", buildOut, "--log-level", "error"}},
	}
	samples := make([][]sample, len(cmds))
	for range runs {
		for i, c := range cmds {
			s, err := measure(dir, c.args)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	a, err := kids(loopOut)
	if err != nil {
		return err
	}
	b, err := kids(buildOut)
	if err != nil {
		return err
	}
	if !slices.Equal(a, b) {
		return fmt.Errorf("the two outputs differ in their kids (%d vs %d keys): not the same work", len(a), len(b))
	}

	fmt.Printf("%d keys, %d runs each, alternating; median CPU (user+sys) and wall, largest peak RSS\n\n", len(a), runs)
	fmt.Println("| program | CPU | wall | peak RSS |")
	fmt.Println("|---|---|---|---|")
	med := make([]sample, len(cmds))
	for i, c := range cmds {
		med[i] = median(samples[i])
		fmt.Printf("| %s | %.3f s | %.3f s | %.1f MB |\n", c.name, med[i].cpu.Seconds(), med[i].wall.Seconds(), float64(med[i].rssKB)/1024)
	}
	fmt.Printf("\nratio build / loop: CPU %.2fx, peak RSS %.2fx\n", med[1].cpu.Seconds()/med[0].cpu.Seconds(), float64(med[1].rssKB)/float64(med[0].rssKB))
	return nil
}

func measure(dir string, args []string) (sample, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, err
	}
	wall := time.Since(start)
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, fmt.Errorf("no rusage on this platform")
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return sample{cpu: cpu, wall: wall, rssKB: ru.Maxrss}, nil
}

// median takes the median CPU and wall time, and the largest peak RSS: memory is a ceiling.
func median(s []sample) sample {
	cpu := make([]time.Duration, len(s))
	wall := make([]time.Duration, len(s))
	var rss int64
	for i, x := range s {
		cpu[i], wall[i] = x.cpu, x.wall
		rss = max(rss, x.rssKB)
	}
	slices.Sort(cpu)
	slices.Sort(wall)
	return sample{cpu: cpu[len(cpu)/2], wall: wall[len(wall)/2], rssKB: rss}
}

func kids(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = k.KID
	}
	slices.Sort(out)
	return out, nil
}
