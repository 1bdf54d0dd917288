package runner

import (
	"fmt"
	"os"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/compartment"
	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// validator checks exported resources: R4 structure always; the edition's
// profiles and those the resource claims when the packages are loaded. The
// financial rule is left to its own spec (PA-FIN-01), which reports it.
type validator struct {
	chk *check.Checker
	// status says why profiles are not checked, when they are not.
	status string
}

// Validator builds the run's validator from a registry (nil when no package
// could be found; profiles are then reported as not checked).
func newValidator(reg *packages.Registry, edition, why string) *validator {
	return &validator{chk: check.New(reg, check.Options{Edition: edition, NoFinancialRule: true}), status: why}
}

// LoadPackages loads the FHIR packages found at the configured paths,
// FHIR_PACKAGES and ~/.fhir/packages. No package at all is not an error:
// the run then says profiles were not checked.
func LoadPackages(paths []string) (*packages.Registry, string, error) {
	var search, missing []string
	for _, p := range packages.SearchPaths(paths) {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
			continue
		}
		search = append(search, p)
	}
	if len(search) == 0 {
		why := "no FHIR packages found: give --packages PATH or set FHIR_PACKAGES (profiles are not checked)"
		if len(missing) > 0 {
			why = "no FHIR packages found (" + strings.Join(missing, ", ") + " does not exist): give --packages PATH or set FHIR_PACKAGES (profiles are not checked)"
		}
		return nil, why, nil
	}
	reg, err := packages.Load(search...)
	if err != nil {
		return nil, "", fmt.Errorf("loading FHIR packages: %w", err)
	}
	if len(reg.Packages()) == 0 {
		return nil, "no FHIR package in " + strings.Join(search, ", ") + " (profiles are not checked)", nil
	}
	return reg, "", nil
}

// Validate checks one resource; resourceType applies only when the resource
// does not say what it is.
func (v *validator) Validate(resourceType string, raw []byte) []validators.Issue {
	return v.chk.CheckAs(resourceType, raw)
}

func (v *validator) ProfilesLoaded() (bool, string) {
	return v.chk.Profiles(), v.status
}

// loadCompartment reads the Patient compartment from the packages: the
// harness judges whose data a resource is by the official definition only.
// Without it, the reason says why (the specs that need it skip).
func loadCompartment(reg *packages.Registry, why string) (*compartment.Definition, string) {
	if reg == nil {
		return nil, why
	}
	d, err := compartment.Load(reg)
	if err != nil {
		return nil, err.Error()
	}
	return d, ""
}
