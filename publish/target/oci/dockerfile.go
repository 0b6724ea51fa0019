package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// imageSpec is what a rendered Dockerfile asks of the image: where each context path goes and
// how the image runs. BuildImage applies it, so an image built without Docker runs exactly like
// `docker build` of the same context, and templates/Dockerfile.tmpl stays the one description
// of the image.
type imageSpec struct {
	// Copies are COPY instructions in order: a source ending in "/" copies a directory of the
	// context, any other source one file.
	Copies []imageCopy
	// User, StopSignal, Entrypoint and Cmd replace the base's when set (Docker's semantics:
	// ENTRYPOINT without a later CMD clears the base's CMD).
	User       string
	StopSignal string
	Entrypoint []string
	Cmd        []string
	setCmd     bool
	setEntry   bool
	// Exposed are the EXPOSE ports ("8080/tcp").
	Exposed     []string
	Healthcheck *v1.HealthConfig
}

type imageCopy struct{ Src, Dst string }

// errDockerfile marks a Dockerfile instruction BuildImage cannot apply without Docker.
var errDockerfile = errors.New("dockerfile")

// parseDockerfile reads the subset of Dockerfile syntax that templates/Dockerfile.tmpl uses:
// one FROM, COPY (context paths only), USER, EXPOSE, STOPSIGNAL, HEALTHCHECK with CMD in JSON
// form, and ENTRYPOINT and CMD in JSON form; comments and backslash continuations. Any other
// instruction is an error naming its line, so a template change that needs Docker (RUN, ADD,
// shell-form commands) fails here loudly instead of building a different image.
func parseDockerfile(data []byte) (*imageSpec, error) {
	spec := &imageSpec{}
	lines := strings.Split(string(data), "\n")
	froms := 0
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSpace(lines[i])
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSpace(strings.TrimSuffix(line, "\\")) + " " + strings.TrimSpace(lines[i])
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w line %d (%s): %s", errDockerfile, lineNo, strings.ToUpper(instr), fmt.Sprintf(format, a...))
		}
		switch strings.ToUpper(instr) {
		case "FROM":
			froms++
			if froms > 1 {
				return nil, bad("multi-stage builds need Docker")
			}
		case "COPY":
			f := strings.Fields(rest)
			if len(f) != 2 || strings.HasPrefix(f[0], "-") {
				return nil, bad("want COPY SRC DST without flags, got %q", rest)
			}
			if !strings.HasPrefix(f[1], "/") || strings.HasSuffix(f[0], "/") != strings.HasSuffix(f[1], "/") {
				return nil, bad("want an absolute destination, both paths ending in / for a directory, got %q", rest)
			}
			spec.Copies = append(spec.Copies, imageCopy{Src: f[0], Dst: strings.TrimPrefix(f[1], "/")})
		case "USER":
			if rest == "" || strings.ContainsAny(rest, " \t") {
				return nil, bad("want one user, got %q", rest)
			}
			spec.User = rest
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				port, proto, ok := strings.Cut(p, "/")
				if !ok {
					proto = "tcp"
				}
				if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
					return nil, bad("not a port: %q", p)
				}
				spec.Exposed = append(spec.Exposed, port+"/"+proto)
			}
		case "STOPSIGNAL":
			if rest == "" || strings.ContainsAny(rest, " \t") {
				return nil, bad("want one signal, got %q", rest)
			}
			spec.StopSignal = rest
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				return nil, bad("want the JSON form [\"prog\", \"arg\"]: %v", err)
			}
			if strings.ToUpper(instr) == "CMD" {
				spec.Cmd, spec.setCmd = argv, true
			} else {
				spec.Entrypoint, spec.setEntry = argv, true
				if !spec.setCmd {
					spec.Cmd, spec.setCmd = nil, true
				}
			}
		case "HEALTHCHECK":
			hc, err := parseHealthcheck(rest)
			if err != nil {
				return nil, bad("%v", err)
			}
			spec.Healthcheck = hc
		default:
			return nil, bad("not supported without Docker")
		}
	}
	if froms != 1 {
		return nil, fmt.Errorf("%w: want exactly one FROM", errDockerfile)
	}
	return spec, nil
}

// parseHealthcheck reads "[--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD
// [JSON]" or "NONE" into the image config's form.
func parseHealthcheck(s string) (*v1.HealthConfig, error) {
	hc := &v1.HealthConfig{}
	for {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "--") {
			break
		}
		opt, after, _ := strings.Cut(s, " ")
		s = after
		name, val, ok := strings.Cut(strings.TrimPrefix(opt, "--"), "=")
		if !ok {
			return nil, fmt.Errorf("option %q has no value", opt)
		}
		if name == "retries" {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--retries=%q is not a count", val)
			}
			hc.Retries = n
			continue
		}
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--%s=%q is not a duration", name, val)
		}
		switch name {
		case "interval":
			hc.Interval = d
		case "timeout":
			hc.Timeout = d
		case "start-period":
			hc.StartPeriod = d
		default:
			return nil, fmt.Errorf("unknown option --%s", name)
		}
	}
	if s == "NONE" {
		return &v1.HealthConfig{Test: []string{"NONE"}}, nil
	}
	cmd, rest, _ := strings.Cut(s, " ")
	if cmd != "CMD" {
		return nil, fmt.Errorf("want CMD [...] or NONE, got %q", s)
	}
	var argv []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &argv); err != nil || len(argv) == 0 {
		return nil, fmt.Errorf("want CMD in the JSON form [\"prog\", \"arg\"], got %q", rest)
	}
	hc.Test = append([]string{"CMD"}, argv...)
	return hc, nil
}
