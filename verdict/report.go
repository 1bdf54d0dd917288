package verdict

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

// FromReport classifies every spec of a Ginkgo report and judges the run.
// A spec that skipped with an evidence.Blocked entry is blocked; one the
// label filter left out is filtered; a run Ginkgo cut short is interrupted.
func FromReport(r types.Report, o Options) *Outcome {
	var specs []Spec
	for i, sr := range r.SpecReports {
		if s, ok := specOf(i, sr, o); ok && applies(s, o) {
			specs = append(specs, s)
		}
	}
	if !r.SuiteSucceeded && len(r.SpecialSuiteFailureReasons) > 0 {
		o.Interrupted = append(o.Interrupted, r.SpecialSuiteFailureReasons...)
	}
	return Judge(specs, o)
}

// applies reports whether a spec says anything in the run: a spec whose
// every requirement is not applicable (a gap analysis leaves the PDex-only
// ones out) is not part of it.
func applies(s Spec, o Options) bool {
	if len(s.Requirements) == 0 {
		return true
	}
	for _, id := range s.Requirements {
		if r, ok := catalog.Lookup(id); !ok {
			return true
		} else if _, ok := o.Applies(r); ok {
			return true
		}
	}
	return false
}

// specOf classifies one report node; ok is false for nodes that are not
// specs and did not fail.
func specOf(i int, sr types.SpecReport, o Options) (Spec, bool) {
	if sr.LeafNodeType != types.NodeTypeIt {
		if !sr.State.Is(types.SpecStateFailureStates) {
			return Spec{}, false
		}
		// A failing suite-level node (BeforeSuite, a reporting hook) fails
		// the run; it stands as a spec so that the reader sees why.
		return Spec{Index: i, Name: sr.LeafNodeType.String() + " failed", Area: "Suite",
			Level: catalog.SHALL, State: Failed, Reason: sr.Failure.Message}, true
	}
	s := Spec{Index: i, Name: sr.LeafNodeText, Area: "Other", Level: catalog.SHALL}
	if len(sr.ContainerHierarchyTexts) > 0 {
		s.Area = sr.ContainerHierarchyTexts[0]
		// Nested containers name the scenario within the area.
		if len(sr.ContainerHierarchyTexts) > 1 {
			s.Name = strings.Join(sr.ContainerHierarchyTexts[1:], " / ") + ": " + sr.LeafNodeText
		}
	}
	for _, l := range sr.Labels() {
		switch {
		case catalog.IsID(l):
			if !slices.Contains(s.Requirements, l) {
				s.Requirements = append(s.Requirements, l)
			}
		case l == string(catalog.SHALL) || l == string(catalog.SHOULD) || l == string(catalog.MAY):
			s.Level = catalog.Level(l)
		}
	}
	// A spec that ran into a failed prerequisite (the target stopped
	// answering, no access token) is blocked by it, whatever it then
	// concluded: its failure is the prerequisite's, and a pass says nothing
	// of the target.
	if sr.State == types.SpecStatePassed || sr.State.Is(types.SpecStateFailureStates) {
		for _, e := range sr.ReportEntries {
			b, ok := e.GetRawValue().(evidence.Blocked)
			if !ok {
				continue
			}
			if b.IfFailed {
				c, failed := o.cause(b.Prerequisite)
				if !failed {
					continue
				}
				b.Reason, b.Met = c.What, true
			}
			if b.Met {
				s.State, s.BlockedBy = Blocked, b.Prerequisite
				s.Reason = "Blocked by " + b.Prerequisite + ": " + b.Reason
				return s, true
			}
		}
	}
	switch {
	case sr.State == types.SpecStatePassed:
		s.State = Passed
	case sr.State == types.SpecStateInterrupted:
		// The run was stopped (Ctrl-C, the suite timeout): the spec says
		// nothing about the target.
		s.State = Skipped
		s.Reason = "Not finished: the run was interrupted."
	case sr.State.Is(types.SpecStateFailureStates):
		s.State = StateOf(true, s.Level, o.FailOnShould)
		s.Reason = sr.Failure.Message
		if sr.Failure.ForwardedPanic != "" {
			s.Reason += "\nThe spec panicked: " + sr.Failure.ForwardedPanic
		}
		if sr.State == types.SpecStateTimedout && s.Reason == "" {
			s.Reason = "The spec timed out."
		}
	default:
		s.State = Skipped
		s.Reason = strings.TrimSpace(sr.Failure.Message)
		for _, e := range sr.ReportEntries {
			if b, ok := e.GetRawValue().(evidence.Blocked); ok {
				s.State, s.BlockedBy = Blocked, b.Prerequisite
			}
		}
		if s.Reason == "" {
			switch {
			case sr.State == types.SpecStatePending:
				s.Reason = "Not run: the spec is pending (not written yet)."
			case o.LabelFilter != "":
				s.Reason = fmt.Sprintf("Not run: not selected by the label filter %q.", o.LabelFilter)
				s.Filtered = true
			default:
				s.Reason = "Not run."
			}
		}
	}
	return s, true
}
