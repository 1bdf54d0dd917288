package framework

import (
	"fmt"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// Validation is the result of validating every line of an export.
type Validation struct {
	Files []evidence.Validation
	// Structural counts errors from the base R4 structure check only;
	// Errors counts every error (structure and profiles).
	Structural, Errors, Warnings, Lines int
	// ByType counts errors per resource type.
	ByType map[string]int
	// Failing are the first resources with an error, kept whole for the
	// report (ShowFailing attaches them).
	Failing []evidence.Resource
	// NotChecked counts the checks validation could not make offline, per
	// value set.
	NotChecked map[string]int
}

// firstIssues is how many issues per file the evidence keeps.
const firstIssues = 20

// Validate checks every line of the export's output files, once per export,
// using every core.
func (e *Env) Validate(x *Export) *Validation {
	x.validateOnce.Do(func() { x.validation = e.validate(x) })
	return x.validation
}

func (e *Env) validate(x *Export) *Validation {
	p := e.newPipeline(false, true)
	for _, f := range x.Files {
		p.add(f)
	}
	p.wait()
	return p.validation(x)
}

// willRun reports whether the specs of a requirement pass the run's label
// filter (an unreadable filter counts as yes: Ginkgo reports it).
func (e *Env) willRun(id string) bool {
	if !e.Applies(id) {
		return false
	}
	if e.Config == nil || e.Config.LabelFilter == "" {
		return true
	}
	keep, err := types.ParseLabelFilter(e.Config.LabelFilter)
	if err != nil {
		return true
	}
	return keep(e.Req(id))
}

// safeValidate runs the validator on one line, turning a panic into an
// error issue: validation runs on worker goroutines, where a panic on a
// hostile line would end the whole run rather than fail one spec.
func (e *Env) safeValidate(resourceType string, line []byte) (issues []validators.Issue) {
	defer func() {
		if p := recover(); p != nil {
			issues = append(issues, validators.Issue{Severity: validators.Error, Rule: r4.Rule,
				Message: fmt.Sprintf("the validator failed on this line (%v)", p)})
		}
	}()
	return e.Validator.Validate(resourceType, line)
}
