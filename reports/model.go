// Package reports turns a run's Ginkgo report into what people and CI read:
// a self-contained HTML report, JUnit XML and a JSON results file. All three
// are rendered from one model, so they never disagree.
package reports

import (
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/runner/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

// Meta describes the run.
type Meta struct {
	Target      string
	Edition     string
	ToolVersion string
	Started     time.Time
	Duration    time.Duration
	// FailOnShould counts SHOULD failures as failures.
	FailOnShould bool
}

// Verdicts.
const (
	Conformant    = "conformant"
	NotConformant = "not conformant"
	Incomplete    = "incomplete"
)

// Spec states as the reports name them.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
	Warning = "warning" // a failed SHOULD when SHOULD failures do not fail the run
)

// Run is the report model.
type Run struct {
	Meta         Meta
	Verdict      string
	Specs        []Spec
	Requirements []Requirement
	Areas        []Area
	// Resources counts exported resources per type (the largest export).
	Resources map[string]int
	// ValidationErrors counts validation errors per resource type.
	ValidationErrors map[string]int
	Counts           Counts
}

// Counts totals the specs by state.
type Counts struct {
	Passed, Failed, Skipped, Warnings, Total int
}

// Spec is one spec's outcome and evidence.
type Spec struct {
	ID           string // anchor, e.g. spec-12
	Name         string
	Area         string
	Requirements []string
	Level        string
	State        string
	Failure      string
	Location     string
	Duration     time.Duration
	Exchanges    []evidence.Exchange
	Manifests    []string
	Validations  []evidence.Validation
	Notes        []string
}

// Requirement is a catalog requirement with the specs that cover it.
type Requirement struct {
	catalog.Requirement
	Status string // passed, failed, warning, skipped, not tested
	Specs  []string
}

// Area totals one scenario area.
type Area struct {
	Name                              string
	Passed, Failed, Skipped, Warnings int
}

// Build makes the model from a Ginkgo report.
func Build(r types.Report, m Meta) *Run {
	run := &Run{Meta: m, Resources: map[string]int{}, ValidationErrors: map[string]int{}}
	areas := map[string]*Area{}
	for i, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			if sr.State.Is(types.SpecStateFailureStates) {
				// A failing suite-level node (e.g. a reporting hook) makes the
				// run incomplete; show it as a spec.
				run.Specs = append(run.Specs, Spec{ID: specID(i), Name: sr.LeafNodeType.String(), Area: "Suite", State: Failed, Failure: sr.Failure.Message})
			}
			continue
		}
		s := Spec{
			ID:       specID(i),
			Name:     sr.LeafNodeText,
			Area:     strings.Join(sr.ContainerHierarchyTexts, " / "),
			Duration: sr.RunTime,
			Location: sr.LeafNodeLocation.String(),
		}
		if len(sr.ContainerHierarchyTexts) > 0 {
			s.Area = sr.ContainerHierarchyTexts[0]
		}
		for _, l := range sr.Labels() {
			switch {
			case catalog.IsID(l):
				s.Requirements = append(s.Requirements, l)
			case l == "SHALL" || l == "SHOULD" || l == "MAY":
				s.Level = l
			}
		}
		switch {
		case sr.State == types.SpecStatePassed:
			s.State = Passed
		case sr.State.Is(types.SpecStateFailureStates):
			s.State = Failed
			if s.Level != "SHALL" && !m.FailOnShould {
				s.State = Warning
			}
			s.Failure = sr.Failure.Message
			if sr.Failure.ForwardedPanic != "" {
				s.Failure += "\npanic: " + sr.Failure.ForwardedPanic
			}
		default:
			s.State = Skipped
			s.Failure = sr.Failure.Message
		}
		for _, e := range sr.ReportEntries {
			switch v := e.GetRawValue().(type) {
			case evidence.Exchange:
				s.Exchanges = append(s.Exchanges, v)
			case evidence.Validation:
				s.Validations = append(s.Validations, v)
				if v.Errors > 0 {
					run.ValidationErrors[v.Type] += v.Errors
				}
			case evidence.ExportSummary:
				if total(v.Resources) > total(run.Resources) {
					run.Resources = v.Resources
				}
			default:
				if e.Name == evidence.EntryManifest {
					s.Manifests = append(s.Manifests, e.StringRepresentation())
				} else {
					s.Notes = append(s.Notes, e.StringRepresentation())
				}
			}
		}
		run.Specs = append(run.Specs, s)
		a := areas[s.Area]
		if a == nil {
			a = &Area{Name: s.Area}
			areas[s.Area] = a
		}
		switch s.State {
		case Passed:
			a.Passed++
			run.Counts.Passed++
		case Failed:
			a.Failed++
			run.Counts.Failed++
		case Warning:
			a.Warnings++
			run.Counts.Warnings++
		default:
			a.Skipped++
			run.Counts.Skipped++
		}
		run.Counts.Total++
	}
	for _, name := range catalog.Areas {
		if a := areas[name]; a != nil {
			run.Areas = append(run.Areas, *a)
			delete(areas, name)
		}
	}
	var rest []string
	for name := range areas {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		run.Areas = append(run.Areas, *areas[name])
	}
	for _, req := range catalog.ForEdition(m.Edition) {
		rq := Requirement{Requirement: req, Status: "not tested"}
		var states []string
		for _, s := range run.Specs {
			for _, id := range s.Requirements {
				if id == req.ID {
					rq.Specs = append(rq.Specs, s.ID)
					states = append(states, s.State)
				}
			}
		}
		rq.Status = combine(states)
		run.Requirements = append(run.Requirements, rq)
	}
	switch {
	case run.Counts.Failed > 0:
		run.Verdict = NotConformant
	case r.SpecialSuiteFailureReasons != nil && len(r.SpecialSuiteFailureReasons) > 0 && !r.SuiteSucceeded:
		run.Verdict = Incomplete
	case untestedShall(run.Requirements):
		run.Verdict = Incomplete
	default:
		run.Verdict = Conformant
	}
	return run
}

// untestedShall reports whether a SHALL requirement was not tested or only
// skipped: the run cannot then say the target conforms.
func untestedShall(rs []Requirement) bool {
	for _, r := range rs {
		if r.Level == catalog.SHALL && (r.Status == "not tested" || r.Status == Skipped) {
			return true
		}
	}
	return false
}

// combine folds the states of a requirement's specs: any failure fails it;
// it passes when every spec that ran passed.
func combine(states []string) string {
	if len(states) == 0 {
		return "not tested"
	}
	out := Skipped
	for _, s := range states {
		switch s {
		case Failed:
			return Failed
		case Warning:
			out = Warning
		case Passed:
			if out == Skipped {
				out = Passed
			}
		}
	}
	return out
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func specID(i int) string { return "spec-" + itoa(i+1) }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// Failed reports whether the run fails a CI gate.
func (r *Run) Failed() bool { return r.Counts.Failed > 0 }
