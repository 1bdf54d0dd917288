// Package validators holds what every validator in pdex-conform reports: an
// Issue, with the severity, location and rule a reader needs to find and fix
// the problem. The checks themselves live in the subpackages.
package validators

import "fmt"

// Severity orders issues from information to error, as FHIR OperationOutcome
// does.
type Severity int

const (
	Information Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Information:
		return "information"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText lets issues serialise their severity by name in JSON reports.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Issue is one finding about one resource.
type Issue struct {
	Severity Severity `json:"severity"`
	// Path locates the element, FHIRPath-like with indexes:
	// ExplanationOfBenefit.item[0].adjudication[1].amount.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Rule names what was broken: a profile canonical, an element id, an
	// invariant key, or a PDex rule ID.
	Rule    string `json:"rule,omitempty"`
	Profile string `json:"profile,omitempty"`
	// File and Line locate the resource in its input, when known (Line is
	// 1-based, 0 when unknown).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// NotChecked, when set, names what a check needed and could not have
	// here (a value set, code system or profile not available offline):
	// the issue says the check was not made, not that the resource is
	// wrong. A Summary counts such issues once per canonical instead of
	// listing each.
	NotChecked string `json:"notChecked,omitempty"`
}

func (i Issue) String() string {
	loc := i.File
	if i.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, i.Line)
	}
	s := i.Severity.String()
	if loc != "" {
		s = loc + ": " + s
	}
	if i.Path != "" {
		s += " " + i.Path
	}
	s += ": " + i.Message
	if i.Rule != "" {
		s += " [" + i.Rule + "]"
	}
	return s
}

// CountErrors returns how many issues are errors.
func CountErrors(issues []Issue) int {
	n := 0
	for _, i := range issues {
		if i.Severity == Error {
			n++
		}
	}
	return n
}
