package runner

import (
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// SharedRegistry loads the FHIR packages once for every run of the tests:
// from FHIR_PACKAGES, else from the shared folder beside the repository.
// Without them it returns nil and the runs report profiles as not checked.
func SharedRegistry(t testing.TB) *packages.Registry {
	t.Helper()
	return packagestest.Optional(t)
}
