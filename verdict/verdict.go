// Package verdict judges a run: from the outcome of every spec it derives
// the status of every requirement of the edition, the verdict with its
// reasons, and the process exit code. The runner judges; the reports only
// render what it decided, so that the console, HTML, JUnit and JSON never
// disagree.
package verdict

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

// Verdicts.
const (
	Conformant    = "conformant"
	NotConformant = "not conformant"
	Incomplete    = "incomplete"
	// GapAnalysis is the verdict of a run against plain Bulk Data $export:
	// what the server lacks for PDex, never a PDex verdict.
	GapAnalysis = "gap analysis"
)

// Exit codes of `pdex-conform run` (and `validate`).
const (
	ExitConformant = 0 // every SHALL requirement of the edition tested and met
	ExitFailures   = 1 // a spec failed (a SHALL, or a SHOULD under fail-on should)
	ExitUsage      = 2 // bad usage or configuration
	ExitIncomplete = 3 // nothing failed, but SHALL requirements were untested, skipped or blocked
)

// Spec and requirement states.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
	// Warning is a failed SHOULD (or MAY) that does not fail the run.
	Warning = "warning"
	// Blocked is a spec that could not run because a prerequisite failed
	// (the operation is missing, the full export did not complete, the
	// target stopped answering): neither passed nor failed.
	Blocked = "blocked"
	// NotTested is a requirement no spec of the run covered (the label
	// filter left them out).
	NotTested = "not tested"
	// PartlyTested is a requirement some of whose specs passed while
	// others were skipped.
	PartlyTested = "partly tested"
	// NotApplicable is a requirement the edition does not have.
	NotApplicable = "not applicable"
)

// Spec is what the verdict needs of one spec.
type Spec struct {
	// Index is the spec's position in the Ginkgo report, so that the
	// reports can find its evidence.
	Index        int
	Name         string
	Area         string
	Requirements []string
	Level        catalog.Level
	State        string
	// Reason is why it failed, was skipped or blocked (the full message).
	Reason string
	// BlockedBy names the prerequisite that blocked it.
	BlockedBy string
	// Filtered marks a spec the label filter left out: it says nothing
	// about the target.
	Filtered bool
}

// Requirement is a catalog requirement, as it reads in the run's edition,
// with its status and the specs that cover it.
type Requirement struct {
	catalog.Requirement
	Status string
	// Specs are indices into Outcome.Specs.
	Specs []int
	// Counts of the covering specs by state (warnings count as failed).
	Passed, Failed, Skipped, Blocked int
}

// Counts totals the specs by state.
type Counts struct {
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	Warnings int `json:"warnings"`
	Skipped  int `json:"skipped"`
	Blocked  int `json:"blocked"`
	Total    int `json:"total"`
}

// Cause is a root cause: a prerequisite that failed, with what it blocked
// and what to fix.
type Cause struct {
	Prerequisite string
	// What says what went wrong, in plain words; Fix what to do about it.
	What, Fix string
	// Blocked counts the specs it blocked.
	Blocked int
}

// Options are what the verdict depends on beyond the specs.
type Options struct {
	Edition string
	// FailOnShould counts SHOULD (not MAY) failures as failures.
	FailOnShould bool
	// LabelFilter is the run's Ginkgo label filter, "" for every spec.
	LabelFilter string
	// Interrupted gives the reasons the run was cut short, if it was.
	Interrupted []string
	// Causes are the root causes the run found, first first.
	Causes []Cause
	// Notes are facts about the run that explain failures without changing
	// the verdict, such as a target that declares another edition than the
	// one the run holds it to; they lead the reasons.
	Notes []string
	// GapAnalysis marks a run against plain Bulk Data Group/[id]/$export:
	// the requirements only $davinci-data-export has are not applicable,
	// and the verdict is a gap analysis (exit 1), never conformant.
	GapAnalysis bool
}

// cause returns the root cause of a prerequisite, if the run found it
// failed.
func (o Options) cause(prereq string) (Cause, bool) {
	for _, c := range o.Causes {
		if c.Prerequisite == prereq {
			return c, true
		}
	}
	return Cause{}, false
}

// Applies reports whether a requirement applies in the run: its edition
// has it, and, in a gap analysis, it is not one only the PDex operation
// has.
func (o Options) Applies(r catalog.Requirement) (catalog.Requirement, bool) {
	rr, ok := r.For(o.Edition)
	if !ok {
		return rr, false
	}
	if _, pdexOnly := catalog.PDexOnly(r.ID); pdexOnly && o.GapAnalysis {
		return rr, false
	}
	return rr, true
}

// Outcome is a judged run.
type Outcome struct {
	Edition string
	Specs   []Spec
	// Requirements lists every requirement of the catalog: those of the
	// edition with their status, then the others as not applicable.
	Requirements []Requirement
	Verdict      string
	// Reasons explain the verdict in a few sentences, root causes first.
	Reasons  []string
	Causes   []Cause
	Counts   Counts
	ExitCode int
}

// StateOf decides a finished spec's state from how it ended: a failure of a
// MAY, or of a SHOULD unless failOnShould, is a warning.
func StateOf(failed bool, level catalog.Level, failOnShould bool) string {
	if !failed {
		return Passed
	}
	if level == catalog.MAY || level == catalog.SHOULD && !failOnShould {
		return Warning
	}
	return Failed
}

// Judge derives requirement statuses, the verdict and the exit code.
func Judge(specs []Spec, o Options) *Outcome {
	out := &Outcome{Edition: o.Edition, Specs: specs, Causes: o.Causes}
	for _, s := range specs {
		switch s.State {
		case Passed:
			out.Counts.Passed++
		case Failed:
			out.Counts.Failed++
		case Warning:
			out.Counts.Warnings++
		case Blocked:
			out.Counts.Blocked++
		default:
			out.Counts.Skipped++
		}
		out.Counts.Total++
	}
	byID := map[string][]int{}
	for i, s := range specs {
		for _, id := range s.Requirements {
			byID[id] = append(byID[id], i)
		}
	}
	for _, base := range catalog.All() {
		r, applies := o.Applies(base)
		q := Requirement{Requirement: r, Specs: byID[r.ID]}
		if !applies {
			q.Status = NotApplicable
			out.Requirements = append(out.Requirements, q)
			continue
		}
		var states []string
		for _, i := range q.Specs {
			s := specs[i]
			if s.Filtered {
				continue
			}
			states = append(states, s.State)
			switch s.State {
			case Passed:
				q.Passed++
			case Failed, Warning:
				q.Failed++
			case Blocked:
				q.Blocked++
			default:
				q.Skipped++
			}
		}
		q.Status = combine(states)
		out.Requirements = append(out.Requirements, q)
	}
	out.Verdict, out.Reasons = judge(out, o)
	switch out.Verdict {
	case NotConformant, GapAnalysis:
		out.ExitCode = ExitFailures
	case Incomplete:
		out.ExitCode = ExitIncomplete
	default:
		out.ExitCode = ExitConformant
	}
	return out
}

// combine folds the states of a requirement's specs: any failure fails it
// (a warning when only SHOULD or MAY specs failed); otherwise a blocked spec
// blocks it; it passed when every spec passed, and is partly tested when
// some passed and others were skipped.
func combine(states []string) string {
	if len(states) == 0 {
		return NotTested
	}
	has := func(s string) bool { return slices.Contains(states, s) }
	switch {
	case has(Failed):
		return Failed
	case has(Warning):
		return Warning
	case has(Blocked):
		return Blocked
	case has(Passed) && has(Skipped):
		return PartlyTested
	case has(Passed):
		return Passed
	}
	return Skipped
}

// judge applies the rules. Any failure makes the target not conformant.
// Otherwise the run is incomplete when it was cut short, or when a SHALL
// requirement of the edition was not tested, only partly tested, skipped or
// blocked: a certification cannot rest on what was not checked. Otherwise
// it is conformant, with warnings for SHOULD and MAY requirements not met.
func judge(out *Outcome, o Options) (string, []string) {
	var failedShall, failedShould, untested, partly, skipped, blocked, warned []string
	for _, q := range out.Requirements {
		shall := q.Level == catalog.SHALL
		switch {
		case q.Status == NotApplicable:
		case q.Status == Failed && shall:
			failedShall = append(failedShall, q.ID)
		case q.Status == Failed:
			failedShould = append(failedShould, q.ID)
		case q.Status == Warning:
			warned = append(warned, q.ID)
		case !shall:
		case q.Status == NotTested:
			untested = append(untested, q.ID)
		case q.Status == PartlyTested:
			partly = append(partly, q.ID)
		case q.Status == Skipped:
			skipped = append(skipped, q.ID)
		case q.Status == Blocked:
			blocked = append(blocked, q.ID)
		}
	}
	reasons := append([]string(nil), o.Notes...)
	var notApplicable []string
	if o.GapAnalysis {
		for _, q := range out.Requirements {
			if _, ok := catalog.PDexOnly(q.ID); ok && q.Status == NotApplicable {
				if _, inEdition := q.Requirement.For(o.Edition); inEdition {
					notApplicable = append(notApplicable, q.ID)
				}
			}
		}
		reasons = append(reasons, "This is a gap analysis of a plain FHIR Bulk Data server (Group/[id]/$export), not a PDex verdict: "+
			"PDex requires Group/[id]/$davinci-data-export, which this run did not call.")
	}
	for _, c := range o.Causes {
		r := c.What
		if c.Blocked > 0 {
			r += fmt.Sprintf(" (%s blocked by it)", plural(c.Blocked, "spec"))
		}
		if c.Fix != "" {
			r += " " + c.Fix
		}
		reasons = append(reasons, r)
	}
	if out.Counts.Failed > 0 {
		reasons = append(reasons, fmt.Sprintf("%s failed.", plural(out.Counts.Failed, "spec")))
	}
	if len(failedShall) > 0 {
		reasons = append(reasons, fmt.Sprintf("SHALL %s not met: %s.", pluralWord(len(failedShall), "requirement"), List(failedShall)))
	}
	if len(failedShould) > 0 {
		reasons = append(reasons, fmt.Sprintf("SHOULD %s not met: %s.", pluralWord(len(failedShould), "requirement"), List(failedShould)))
	}
	interrupted := len(o.Interrupted) > 0
	if interrupted {
		reasons = append(reasons, "The run was cut short: "+strings.Join(o.Interrupted, "; ")+".")
	}
	if len(blocked) > 0 {
		reasons = append(reasons, fmt.Sprintf("%s blocked by a failed prerequisite: %s.", plural(len(blocked), "SHALL requirement"), List(blocked)))
	}
	if len(untested) > 0 {
		reasons = append(reasons, fmt.Sprintf("%s not tested: %s.", plural(len(untested), "SHALL requirement"), List(untested)))
	}
	if len(skipped) > 0 {
		reasons = append(reasons, fmt.Sprintf("%s only skipped (the specs say why): %s.", plural(len(skipped), "SHALL requirement"), List(skipped)))
	}
	if len(partly) > 0 {
		reasons = append(reasons, fmt.Sprintf("%s only partly tested (some of their specs were skipped): %s.", plural(len(partly), "SHALL requirement"), List(partly)))
	}
	if len(warned) > 0 {
		reasons = append(reasons, fmt.Sprintf("Warning: %s not met (SHOULD or MAY; not failing the run): %s.", pluralWord(len(warned), "requirement"), List(warned)))
	}
	if o.GapAnalysis {
		reasons = append(reasons, fmt.Sprintf("%s only $davinci-data-export has could not be checked: %s.",
			plural(len(notApplicable), "PDex requirement"), List(notApplicable)))
		return GapAnalysis, reasons
	}
	switch {
	case out.Counts.Failed > 0:
		return NotConformant, reasons
	case interrupted || len(untested)+len(skipped)+len(partly)+len(blocked) > 0 || len(o.Causes) > 0:
		return Incomplete, reasons
	}
	return Conformant, append([]string{fmt.Sprintf("Every SHALL requirement of edition %s was tested and met.", o.Edition)}, reasons...)
}

func plural(n int, noun string) string {
	return strconv.Itoa(n) + " " + pluralWord(n, noun)
}

func pluralWord(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// List names up to a dozen IDs, then says how many more.
func List(ids []string) string {
	const show = 12
	if len(ids) <= show {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:show], ", ") + fmt.Sprintf(" and %d more", len(ids)-show)
}
