//go:build unix

package file_test

import (
	"path/filepath"
	"testing"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/publishtest"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/publish/target/file"
	"github.com/jwkspub/jwkspub/publish/target/targettest"
)

func TestConformance(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			targettest.Run(t, targettest.Harness{
				Fresh: func(t *testing.T) func(onWrite func(point string)) target.Target {
					dir := filepath.Join(t.TempDir(), ".well-known")
					return func(onWrite func(point string)) target.Target {
						tg, err := file.New(dir, "jwks.json", file.Options{Gzip: gz, CreateDir: true, OnWrite: onWrite})
						if err != nil {
							t.Fatal(err)
						}
						return tg
					}
				},
			})
		})
	}
}

// The publication suite, through plan, guard and apply.
func TestPublication(t *testing.T) {
	publishtest.TargetConformance(t, func(t *testing.T) publish.Destination {
		dir := filepath.Join(t.TempDir(), ".well-known")
		tg, err := file.New(dir, "jwks.json", file.Options{Gzip: true, CreateDir: true})
		if err != nil {
			t.Fatal(err)
		}
		return publish.Destination{URL: "file://" + filepath.Join(dir, "jwks.json"), Target: tg}
	})
}
