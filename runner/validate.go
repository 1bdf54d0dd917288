package runner

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
	"github.com/pdex-conform/pdex-conform/validators/profile"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// validator checks exported resources: R4 structure always; the edition's
// profiles and those the resource claims when the packages are loaded.
type validator struct {
	edition string
	parsers sync.Pool // *r4.Parser: not safe for concurrent use
	prof    *profile.Validator
	// status says why profiles are not checked, when they are not.
	status string
}

// Validator builds the run's validator from a registry (nil when no package
// could be found; profiles are then reported as not checked).
func newValidator(reg *packages.Registry, edition, why string) *validator {
	v := &validator{edition: edition, status: why}
	v.parsers.New = func() any {
		p, err := r4.New()
		if err != nil {
			panic(err) // only fails for an unknown FHIR version
		}
		return p
	}
	if reg != nil {
		v.prof = profile.New(reg, profile.Options{})
	}
	return v
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

func (v *validator) Validate(resourceType string, raw []byte) []validators.Issue {
	p := v.parsers.Get().(*r4.Parser)
	issues := p.Check(raw)
	v.parsers.Put(p)
	if v.prof != nil {
		res := v.prof.Validate(raw, pdex.ExpectedProfiles(v.edition, resourceType, raw)...)
		issues = append(issues, res.Issues...)
	}
	return issues
}

func (v *validator) ProfilesLoaded() (bool, string) {
	return v.prof != nil, v.status
}
