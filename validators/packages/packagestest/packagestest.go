// Package packagestest finds the official FHIR packages for tests: the
// folder named by FHIR_PACKAGES, or shared/fhir-packages in a parent of the
// working directory (the project's checkouts sit beside ../shared).
package packagestest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// Dir returns the folder holding the shipped .tgz packages, or skips the
// test with a message saying how to provide it.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d := find(); d != "" {
		return d
	}
	tb.Skip("FHIR packages not found: set FHIR_PACKAGES to the folder holding the official .tgz packages (shared/fhir-packages)")
	return ""
}

func find() string {
	for _, p := range filepath.SplitList(os.Getenv("FHIR_PACKAGES")) {
		if hasTgz(p) {
			return p
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; {
		if p := filepath.Join(d, "shared", "fhir-packages"); hasTgz(p) {
			return p
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func hasTgz(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	return len(m) > 0
}

// shared holds the registry that Registry loads once per test binary: the
// packages never change during a run, and loading them per test would
// dominate test time.
var shared struct {
	once sync.Once
	reg  *packages.Registry
	err  error
}

// Registry returns the shipped packages, loaded once per test binary. It
// uses the tool's default index cache, as the CLI does, so that repeated
// test runs start warm.
func Registry(tb testing.TB) *packages.Registry {
	tb.Helper()
	return load(tb, Dir(tb))
}

// Optional is Registry for tests that also hold without packages (runs that
// then report profiles as not checked): nil when none are found.
func Optional(tb testing.TB) *packages.Registry {
	tb.Helper()
	dir := find()
	if dir == "" {
		tb.Log("FHIR packages not found: profile and compartment checks are reported as not run")
		return nil
	}
	return load(tb, dir)
}

func load(tb testing.TB, dir string) *packages.Registry {
	tb.Helper()
	shared.once.Do(func() {
		shared.reg, shared.err = packages.Load(dir)
	})
	if shared.err != nil {
		tb.Fatalf("load FHIR packages from %s: %v", dir, shared.err)
	}
	return shared.reg
}
