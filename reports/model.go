// Package reports turns a run's Ginkgo report into what people and CI read:
// a self-contained HTML report, JUnit XML and a JSON results file. All three
// are rendered from one model, built by Build, so they never disagree; every
// string in the model has been through a Scrubber, so no secret reaches any
// of them.
package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
	"github.com/pdex-conform/pdex-conform/verdict"
)

// Meta describes the run.
type Meta struct {
	Target string
	// Reference says the target was the in-process reference server.
	Reference bool
	Edition   string
	// EditionWhy says how the run chose the edition (configured, or read
	// from the target's CapabilityStatement).
	EditionWhy  string
	ToolVersion string
	Started     time.Time
	Duration    time.Duration
	// Group is the attribution Group the run exported.
	Group string
	// AuthMode is how the harness authorized: smart, bearer or none.
	AuthMode string
	// LabelFilter is the Ginkgo label filter that selected the specs.
	LabelFilter string
	// Faults are the reference-server faults switched on (target
	// "reference" only).
	Faults []string
	// FailOnShould counts SHOULD failures as failures.
	FailOnShould bool
	// Ended is when the run ended.
	Ended time.Time
	// Operation is the export operation driven: "davinci-data-export", or
	// "export" in a gap analysis.
	Operation string
	// Inputs are every run input and option, as the run used them (secrets
	// left out), for the Run section.
	Inputs []Input
	// Packages are the FHIR packages validation read; MissingPackages those
	// expected and not found; PackagesNote why none was read.
	Packages        []Package
	MissingPackages []string
	PackagesNote    string
	// Server is what the target's CapabilityStatement says of it; nil when
	// it gave none.
	Server *Server
	// Attestations are the payer's statements, by attestation ID.
	Attestations map[string]Attestation
	// Secrets are values that must never appear in any output (private
	// keys, a static bearer token). They are used to scrub the model and are
	// never rendered.
	Secrets []string `json:"-"`
}

// Input is one run input or option.
type Input struct {
	Name, Value string
}

// Package is a FHIR package validation read.
type Package struct {
	Name, Version, Path string
}

// Server is what the target says it is.
type Server struct {
	Software            string   `json:"software,omitempty"`
	Version             string   `json:"version,omitempty"`
	ReleaseDate         string   `json:"releaseDate,omitempty"`
	Description         string   `json:"description,omitempty"`
	URL                 string   `json:"url,omitempty"`
	FHIRVersion         string   `json:"fhirVersion,omitempty"`
	Instantiates        []string `json:"instantiates,omitempty"`
	ImplementationGuide []string `json:"implementationGuide,omitempty"`
}

// Attestation is a payer's statement about a requirement no test can check.
type Attestation struct {
	Attested           bool
	By, Date, Evidence string
}

// AttestationRow is one attestation requirement with what the payer stated.
type AttestationRow struct {
	catalog.Requirement
	Links []catalog.Link
	Attestation
	// Stated says the configuration has an entry for it.
	Stated bool
}

// Coverage says how much validation covered.
type Coverage struct {
	// Resources validated (lines of the full export's files).
	Resources int
	// NotChecked lists the checks not made offline, per value set, most
	// first; NotCheckedTotal sums them.
	NotChecked      []NotChecked
	NotCheckedTotal int
}

// NotChecked is one value set (or code system, or profile) that bindings
// needed and no package here holds.
type NotChecked struct {
	What  string
	Count int
}

// Verdicts, as package verdict decides them.
const (
	Conformant    = verdict.Conformant
	NotConformant = verdict.NotConformant
	Incomplete    = verdict.Incomplete
	GapAnalysis   = verdict.GapAnalysis
)

// Spec and requirement states as the reports name them.
const (
	Passed        = verdict.Passed
	Failed        = verdict.Failed
	Skipped       = verdict.Skipped
	Warning       = verdict.Warning // a failed SHOULD (or MAY) that does not fail the run
	Blocked       = verdict.Blocked
	NotTested     = verdict.NotTested
	PartlyTested  = verdict.PartlyTested
	NotApplicable = verdict.NotApplicable
)

// Run is the report model.
type Run struct {
	Meta    Meta
	Verdict string
	// Reasons explain the verdict in a few sentences.
	Reasons      []string
	Specs        []Spec
	Requirements []Requirement
	Areas        []Area
	// Resources counts exported resources per type (the largest export of
	// the run, which is the full Group export).
	Resources map[string]int
	// Export summarises that export (files, bytes); nil when no spec
	// recorded one.
	Export *evidence.ExportSummary
	// Validation totals the validation evidence of the run.
	Validation ValidationTotals
	// Coverage says how much of the export validation checked.
	Coverage Coverage
	Counts   Counts
	// ExitCode is the process exit code the verdict gives.
	ExitCode int
	// Causes are the root causes, first first.
	Causes []verdict.Cause
	// Attestations are the requirements no test can check, as attested.
	Attestations []AttestationRow
	// ResultsHash is the SHA-256 of the JSON results (exactly the bytes
	// WriteJSON writes), printed in the report and on the console so that a
	// certifier can tie the three together.
	ResultsHash string
}

// ValidationTotals sums the validation evidence of a run.
type ValidationTotals struct {
	Files, Lines, Errors, Warnings int
	// ErrorsByType counts validation errors per resource type.
	ErrorsByType map[string]int
}

// Counts totals the specs by state.
type Counts = verdict.Counts

// Spec is one spec's outcome and evidence.
type Spec struct {
	ID           string // HTML anchor, e.g. spec-12; stable for a given set of specs
	Name         string
	Area         string
	Requirements []string
	Level        string
	State        string
	// Failure is the full failure (or skip) message; Summary says it in
	// plain words.
	Failure string
	Summary string
	// Location is where the spec is written; FailedAt where it failed.
	Location string
	FailedAt string
	Duration time.Duration
	Steps    []Step
	// Exchanges are the HTTP exchanges the spec made.
	Exchanges []evidence.Exchange
	// SharedFrom names the spec whose exchanges produced the export this
	// spec checked, when the export was shared (made once, checked by many
	// specs); Shared holds those exchanges for specs that did not pass.
	SharedFrom string
	Shared     []evidence.Exchange
	// SharedLeftOut counts the shared exchanges not copied into Shared.
	SharedLeftOut int
	Manifests     []string
	// Validations are per-file validation summaries.
	Validations []evidence.Validation
	// Resources are exported resources the spec found at fault, whole.
	Resources []evidence.Resource
	Notes     []string
	// Log is what the spec wrote to GinkgoWriter.
	Log string
	// Filtered marks a skipped spec the label filter left out: it says
	// nothing about the target, so its requirements count as not tested.
	Filtered bool
	// BlockedBy names the failed prerequisite that blocked the spec.
	BlockedBy string
}

// Step is one By step of a spec.
type Step struct {
	Text     string
	Duration time.Duration
	// Failed marks the step during which the spec failed.
	Failed bool
}

// Requirement is a catalog requirement with the specs that cover it.
type Requirement struct {
	catalog.Requirement
	Status string // see package verdict
	Specs  []string
	// Links are the published specification pages it comes from.
	Links []catalog.Link
	// Passed, Failed, Skipped, Blocked count the covering specs by outcome
	// (warnings count as failed).
	Passed, Failed, Skipped, Blocked int
}

// Area totals one scenario area.
type Area struct {
	Name                                       string
	Passed, Failed, Warnings, Skipped, Blocked int
}

// Total is the number of specs in the area.
func (a Area) Total() int { return a.Passed + a.Failed + a.Warnings + a.Skipped + a.Blocked }

// Build makes the model of a judged run: the outcome decides every state
// and the verdict; the Ginkgo report gives each spec's evidence.
func Build(r types.Report, out *verdict.Outcome, m Meta) *Run {
	sc := NewScrubber(m.Secrets...)
	run := &Run{Meta: m, Resources: map[string]int{}, Validation: ValidationTotals{ErrorsByType: map[string]int{}},
		Counts: out.Counts, ExitCode: out.ExitCode, Verdict: out.Verdict, Reasons: sc.ScrubAll(slices.Clone(out.Reasons))}
	for _, c := range out.Causes {
		c.What, c.Fix = sc.Scrub(c.What), sc.Scrub(c.Fix)
		run.Causes = append(run.Causes, c)
	}
	run.Meta.Inputs = slices.Clone(m.Inputs)
	for i := range run.Meta.Inputs {
		run.Meta.Inputs[i].Value = sc.Scrub(run.Meta.Inputs[i].Value)
	}
	run.Meta.Secrets = nil
	run.Meta.Target = sc.Scrub(m.Target)

	var specs []Spec
	var order []types.CodeLocation
	notChecked := map[string]int{}
	coveredBy := ""
	// Several specs attach the validation of the same export's files (the
	// structure and the profile specs check one validation pass): each file
	// counts once in the run's totals.
	counted := map[string]bool{}
	for _, o := range out.Specs {
		sr := r.SpecReports[o.Index]
		s := buildSpec(o, sr, sc)
		specs = append(specs, s)
		order = append(order, sr.LeafNodeLocation)
		for _, v := range s.Validations {
			if counted[v.File] {
				continue
			}
			counted[v.File] = true
			run.Validation.Files++
			run.Validation.Lines += v.Lines
			run.Validation.Errors += v.Errors
			run.Validation.Warnings += v.Warnings
			if v.Errors > 0 {
				run.Validation.ErrorsByType[v.Type] += v.Errors
			}
		}
		for _, e := range sr.ReportEntries {
			if v, ok := e.GetRawValue().(evidence.ExportSummary); ok && (run.Export == nil || total(v.Resources) > total(run.Export.Resources)) {
				v := v
				run.Export = &v
				run.Resources = v.Resources
			}
			// Several specs validate the same full export: its coverage is
			// counted once, from the first that attached it.
			if c, ok := e.GetRawValue().(evidence.Coverage); ok && (coveredBy == "" || coveredBy == s.Name) && c.Resources >= run.Coverage.Resources {
				coveredBy = s.Name
				run.Coverage.Resources = c.Resources
				clear(notChecked)
				for vs, n := range c.NotChecked {
					notChecked[vs] += n
				}
			}
		}
	}
	// Ginkgo shuffles top-level containers; the report lists specs in
	// catalog area order, then in source order, so that two runs of the
	// same suites read (and number) alike.
	idx := make([]int, len(specs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Or(
			cmp.Compare(areaRank(specs[a].Area), areaRank(specs[b].Area)),
			cmp.Compare(specs[a].Area, specs[b].Area),
			cmp.Compare(order[a].FileName, order[b].FileName),
			cmp.Compare(order[a].LineNumber, order[b].LineNumber),
		)
	})
	anchor := make([]string, len(specs)) // by outcome index
	for n, i := range idx {
		s := specs[i]
		s.ID = "spec-" + strconv.Itoa(n+1)
		anchor[i] = s.ID
		run.Specs = append(run.Specs, s)
	}
	linkSharedEvidence(run.Specs)

	areas := map[string]*Area{}
	for _, s := range run.Specs {
		a := areas[s.Area]
		if a == nil {
			a = &Area{Name: s.Area}
			areas[s.Area] = a
		}
		switch s.State {
		case Passed:
			a.Passed++
		case Failed:
			a.Failed++
		case Warning:
			a.Warnings++
		case Blocked:
			a.Blocked++
		default:
			a.Skipped++
		}
	}
	// Every catalog area is listed, with no specs when none ran, so that a
	// reader sees what the run did not cover.
	// An area none of whose requirements the edition has (2.0.0's
	// exportMode in 2.1.0) is left out: nothing there was to run.
	applies := map[string]bool{}
	for _, q := range out.Requirements {
		if q.Status != verdict.NotApplicable {
			applies[q.Area] = true
		}
	}
	for _, name := range catalog.Areas {
		if a := areas[name]; a != nil {
			run.Areas = append(run.Areas, *a)
			delete(areas, name)
		} else if applies[name] {
			run.Areas = append(run.Areas, Area{Name: name})
		}
	}
	var rest []string
	for name := range areas {
		rest = append(rest, name)
	}
	slices.Sort(rest)
	for _, name := range rest {
		run.Areas = append(run.Areas, *areas[name])
	}

	if run.Coverage.Resources == 0 {
		run.Coverage.Resources = run.Validation.Lines
	}
	for vs, n := range notChecked {
		run.Coverage.NotChecked = append(run.Coverage.NotChecked, NotChecked{What: vs, Count: n})
		run.Coverage.NotCheckedTotal += n
	}
	slices.SortFunc(run.Coverage.NotChecked, func(a, b NotChecked) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.What, b.What))
	})
	for _, a := range catalog.Attestations() {
		st, ok := m.Attestations[a.ID]
		st.By, st.Date, st.Evidence = sc.Scrub(st.By), sc.Scrub(st.Date), sc.Scrub(st.Evidence)
		run.Attestations = append(run.Attestations, AttestationRow{Requirement: a, Links: catalog.Links(a, m.Edition), Attestation: st, Stated: ok})
	}
	for _, q := range out.Requirements {
		rq := Requirement{Requirement: q.Requirement, Status: q.Status, Links: catalog.Links(q.Requirement, m.Edition),
			Passed: q.Passed, Failed: q.Failed, Skipped: q.Skipped, Blocked: q.Blocked}
		for _, i := range q.Specs {
			rq.Specs = append(rq.Specs, anchor[i])
		}
		run.Requirements = append(run.Requirements, rq)
	}
	run.ResultsHash = hashResults(run)
	return run
}

// buildSpec makes one spec of the model from its outcome and its report.
func buildSpec(o verdict.Spec, sr types.SpecReport, sc *Scrubber) Spec {
	s := Spec{
		Name:         sc.Scrub(o.Name),
		Area:         o.Area,
		Requirements: o.Requirements,
		Level:        string(o.Level),
		State:        o.State,
		Failure:      sc.Scrub(o.Reason),
		Filtered:     o.Filtered,
		BlockedBy:    o.BlockedBy,
		Duration:     sr.RunTime,
		Location:     shortLocation(sr.LeafNodeLocation),
		Log:          sc.Scrub(strings.TrimSpace(sr.CapturedGinkgoWriterOutput)),
	}
	if o.State == Failed || o.State == Warning {
		s.FailedAt = shortLocation(sr.Failure.Location)
	}
	s.Summary = PlainFailure(s.Failure)
	s.Steps = steps(sr, sc)

	for _, e := range sr.ReportEntries {
		switch v := e.GetRawValue().(type) {
		case evidence.Exchange:
			s.Exchanges = append(s.Exchanges, scrubExchange(v, sc))
		case evidence.Validation:
			v.File = sc.Scrub(v.File)
			v.First = sc.ScrubAll(slices.Clone(v.First))
			s.Validations = append(s.Validations, v)
		case evidence.Resource:
			v.JSON, v.File, v.Key = sc.Scrub(v.JSON), sc.Scrub(v.File), sc.Scrub(v.Key)
			v.Why = sc.ScrubAll(slices.Clone(v.Why))
			s.Resources = append(s.Resources, v)
		case evidence.ExportSummary, evidence.Blocked, evidence.Coverage:
			// Summed up for the run in Build; shown through BlockedBy.
		default:
			text := sc.Scrub(e.StringRepresentation())
			if e.Name == evidence.EntryManifest {
				s.Manifests = append(s.Manifests, text)
			} else if text != "" {
				s.Notes = append(s.Notes, text)
			}
		}
	}
	return s
}

// steps lists the spec's By steps and marks the one it failed in.
func steps(sr types.SpecReport, sc *Scrubber) []Step {
	var out []Step
	var orders []int
	for _, ev := range sr.SpecEvents {
		switch ev.SpecEventType {
		case types.SpecEventByStart:
			out = append(out, Step{Text: sc.Scrub(ev.Message)})
			orders = append(orders, ev.TimelineLocation.Order)
		case types.SpecEventByEnd:
			for i := len(out) - 1; i >= 0; i-- {
				if out[i].Text == sc.Scrub(ev.Message) && out[i].Duration == 0 {
					out[i].Duration = ev.Duration
					break
				}
			}
		}
	}
	if sr.State.Is(types.SpecStateFailureStates) && len(out) > 0 {
		at := sr.Failure.TimelineLocation.Order
		last := -1
		for i, o := range orders {
			if o <= at {
				last = i
			}
		}
		if last >= 0 {
			out[last].Failed = true
		}
	}
	return out
}

func scrubExchange(ex evidence.Exchange, sc *Scrubber) evidence.Exchange {
	ex.URL = sc.Scrub(ex.URL)
	ex.RequestHeaders = scrubHeaders(ex.RequestHeaders, sc)
	ex.ResponseHeaders = scrubHeaders(ex.ResponseHeaders, sc)
	ex.RequestBody = sc.Scrub(ex.RequestBody)
	ex.ResponseBody = sc.Scrub(ex.ResponseBody)
	ex.Error = sc.Scrub(ex.Error)
	ex.Conformance = sc.ScrubAll(slices.Clone(ex.Conformance))
	return ex
}

func scrubHeaders(h map[string][]string, sc *Scrubber) map[string][]string {
	if h == nil {
		return nil
	}
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		out[k] = sc.ScrubAll(slices.Clone(vs))
	}
	return out
}

// linkSharedEvidence points specs that checked a shared export (the full
// Group export is made once and checked by several specs) at the spec whose
// exchanges made it. The export is recognised by its manifest: the status
// response that delivered it has the manifest, previewed, as its body.
func linkSharedEvidence(specs []Spec) {
	owner := map[string]int{} // manifest preview -> spec index
	for i, s := range specs {
		for _, ex := range s.Exchanges {
			if ex.Method == "GET" && ex.Status == 200 && strings.HasPrefix(strings.TrimSpace(ex.ResponseBody), "{") {
				if _, seen := owner[ex.ResponseBody]; !seen {
					owner[ex.ResponseBody] = i
				}
			}
		}
	}
	for i := range specs {
		s := &specs[i]
		if len(s.Exchanges) > 0 || len(s.Manifests) == 0 {
			continue
		}
		// Manifests are scrubbed like exchange bodies, so previews compare.
		j, ok := owner[evidence.Preview([]byte(s.Manifests[0]))]
		if !ok || j == i {
			continue
		}
		s.SharedFrom = specs[j].ID
		if s.State != Passed {
			s.Shared, s.SharedLeftOut = pickShared(specs[j].Exchanges, s.Failure)
		}
	}
}

// maxShared bounds the exchanges of a shared export copied into each spec
// that failed on it; the rest stay with the spec that made the export.
const maxShared = 30

// pickShared keeps every exchange the failure names and, up to maxShared in
// all, the others in the order they happened.
func pickShared(exs []evidence.Exchange, failure string) ([]evidence.Exchange, int) {
	if len(exs) <= maxShared {
		return exs, 0
	}
	keep := make([]bool, len(exs))
	n := 0
	for i, ex := range exs {
		if names(failure, ex.URL) {
			keep[i] = true
			n++
		}
	}
	for i := range exs {
		if n >= maxShared {
			break
		}
		if !keep[i] {
			keep[i] = true
			n++
		}
	}
	var out []evidence.Exchange
	for i, ex := range exs {
		if keep[i] {
			out = append(out, ex)
		}
	}
	return out, len(exs) - len(out)
}

func areaRank(name string) int {
	if i := slices.Index(catalog.Areas, name); i >= 0 {
		return i
	}
	if name == "Suite" {
		return -1 // suite failures first: they explain everything after
	}
	return len(catalog.Areas)
}

// shortLocation makes a code location relative to the module, so that the
// report does not carry the build machine's paths.
func shortLocation(cl types.CodeLocation) string {
	if cl.FileName == "" {
		return ""
	}
	f := cl.FileName
	for _, dir := range []string{"/suites/", "/runner/", "/reports/"} {
		if i := strings.LastIndex(f, dir); i >= 0 {
			f = f[i+1:]
			break
		}
	}
	return fmt.Sprintf("%s:%d", f, cl.LineNumber)
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Failed reports whether the run fails a CI gate.
func (r *Run) Failed() bool { return r.ExitCode == verdict.ExitFailures }
