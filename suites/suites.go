// Package suites holds the Provider Access conformance specs, one file per
// area of the specification. Register declares them for one run; the runner
// resets Ginkgo, registers and runs them from inside the binary.
package suites

import (
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// Register declares every spec against an environment.
func Register(e *framework.Env) {
	e.Install()
	registerDiscovery(e)
	registerAuth(e)
	registerGroup(e)
	registerProviderGroup(e)
	registerFullExport(e)
	registerSubset(e)
	registerTypes(e)
	registerSince(e)
	registerExportType(e)
	registerExportKinds(e)
	registerExportMode(e)
	registerTracking(e)
	registerOptOut(e)
	registerConsent(e)
	registerMemberMatch(e)
	registerFinancial(e)
	registerProfiles(e)
	registerMechanics(e)
	registerAPI(e)
}
