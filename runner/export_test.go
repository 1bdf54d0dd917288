package runner

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

var (
	registryOnce sync.Once
	registry     *packages.Registry
	registryErr  error
)

// SharedRegistry loads the FHIR packages once for every run of the tests:
// from FHIR_PACKAGES, else from the shared folder beside the repository.
// Without them it returns nil and the runs report profiles as not checked.
func SharedRegistry(t testing.TB) *packages.Registry {
	t.Helper()
	registryOnce.Do(func() {
		paths := packages.SearchPaths(nil)
		if len(paths) == 0 {
			if dir, err := filepath.Abs("../../shared/fhir-packages"); err == nil {
				if _, err := os.Stat(dir); err == nil {
					paths = []string{dir}
				}
			}
		}
		if len(paths) == 0 {
			return
		}
		registry, registryErr = packages.Load(paths...)
	})
	if registryErr != nil {
		t.Fatalf("loading FHIR packages: %v", registryErr)
	}
	if registry == nil {
		t.Log("no FHIR packages found: profile specs are skipped")
	}
	return registry
}
