package runner

import (
	"sync"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// validator checks exported resources: R4 structure always; profiles when
// the packages are loaded.
type validator struct {
	parsers sync.Pool // *r4.Parser: not safe for concurrent use
}

func newValidator(packages []string) (*validator, error) {
	v := &validator{}
	v.parsers.New = func() any {
		p, err := r4.New()
		if err != nil {
			panic(err) // only fails for an unknown FHIR version
		}
		return p
	}
	return v, nil
}

func (v *validator) Validate(resourceType string, raw []byte) []validators.Issue {
	p := v.parsers.Get().(*r4.Parser)
	defer v.parsers.Put(p)
	return p.Check(raw)
}

func (v *validator) ProfilesLoaded() (bool, string) {
	return false, "profile validation is not wired yet"
}
