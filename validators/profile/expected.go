package profile

import (
	"fmt"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators"
)

// RuleAcceptable names the issue of a resource that meets none of the
// profiles acceptable for it.
const RuleAcceptable = "acceptable-profile"

// notLoaded says once, for the summary of the run, that a profile could
// not be checked because it is not available here.
func (w *walker) notLoaded(canonical string) {
	if w.quiet {
		return
	}
	w.res.Issues = append(w.res.Issues, validators.Issue{
		Severity: validators.Warning, Path: string(w.path),
		Message: fmt.Sprintf("profile %s is not loaded: not checked (profile not available offline)", canonical),
		Rule:    canonical, Profile: canonical, NotChecked: canonical,
	})
}

// ValidateExpected validates a resource against the profiles it claims and
// the required ones (each must be met, as ValidateDocument), and requires it
// to meet at least one of anyOf, the profiles acceptable for it (none when
// anyOf is empty). label says whose expectation it is, for messages
// ("PDex 2.0.0 for a Patient").
//
// A claimed profile that is acceptable is weighed by its own errors in the
// main validation; an acceptable profile the resource does not claim is
// checked on its own. When none is met: if every acceptable profile is
// loaded, one error names them all and gives the nearest one's errors
// (the fewest); if some are not available here, the resource cannot be
// judged, and it says so (a not-checked issue per missing profile, for the
// run's summary, and a warning when the loaded ones fail).
func (v *Validator) ValidateExpected(d *Document, required, anyOf []string, label string) Result {
	r := v.ValidateDocument(d, required...)
	if d.err != nil || len(anyOf) == 0 {
		return r
	}
	claimed := map[string]string{} // plan url -> the canonical as claimed or asked
	for _, c := range profileList(required, d.obj["meta"]) {
		if p, _ := v.planFor(c); p != nil {
			claimed[p.url] = c
		}
	}
	var failed []weighed
	var missing []string
	for _, a := range anyOf {
		p, err := v.planFor(a)
		if p == nil || err != nil {
			missing = append(missing, a)
			continue
		}
		if _, ok := claimed[p.url]; ok {
			var errs []validators.Issue
			for _, is := range r.Issues {
				if is.Severity == validators.Error && is.Profile == p.url {
					errs = append(errs, is)
				}
			}
			if len(errs) == 0 {
				return r
			}
			failed = append(failed, weighed{a, errs})
			continue
		}
		alone := v.validateOnly(d.obj, a)
		if alone.Errors() == 0 {
			r.Checked = append(r.Checked, a)
			r.Issues = dedupe(append(r.Issues, warningsOf(alone.Issues)...))
			return r
		}
		failed = append(failed, weighed{a, errorsOf(alone.Issues)})
	}
	rt, _ := d.obj["resourceType"].(string)
	var nearest *weighed
	for i := range failed {
		if nearest == nil || len(failed[i].errors) < len(nearest.errors) {
			nearest = &failed[i]
		}
	}
	if len(missing) > 0 {
		for _, m := range missing {
			if !notRun(r, m) {
				r.NotRun = append(r.NotRun, m)
				r.Issues = append(r.Issues, validators.Issue{
					Severity: validators.Warning, Path: rt,
					Message: fmt.Sprintf("profile %s, acceptable for %s, is not loaded: not checked (profile not available offline)", m, label),
					Rule:    RuleAcceptable, Profile: m, NotChecked: m,
				})
			}
		}
		if nearest != nil {
			r.Issues = append(r.Issues, validators.Issue{
				Severity: validators.Warning, Path: rt, Rule: RuleAcceptable, Profile: nearest.canonical,
				Message: fmt.Sprintf("meets none of the acceptable profiles for %s that are available here (%s); nearest %s, %s; not judged, since %s not available offline",
					label, canonicals(failed), nearest.canonical, firstError(nearest.errors), strings.Join(missing, ", ")+plural(len(missing), " is", " are")),
			})
		}
		return r
	}
	r.Issues = append(r.Issues, validators.Issue{
		Severity: validators.Error, Path: rt, Rule: RuleAcceptable, Profile: nearest.canonical,
		Message: fmt.Sprintf("meets none of the acceptable profiles for %s (%s); nearest %s, with %d errors listed with it",
			label, canonicals(failed), nearest.canonical, len(nearest.errors)),
	})
	// The nearest profile's errors, unless the main validation (which
	// checked it as claimed) already lists them.
	r.Issues = dedupe(append(r.Issues, nearest.errors...))
	return r
}

// validateOnly checks a resource against one profile, leaving aside the
// profiles it claims.
func (v *Validator) validateOnly(res map[string]any, canonical string) Result {
	var r Result
	w := &walker{v: v, res: &r, path: make([]byte, 0, 128), onlyAsked: true}
	rt, _ := res["resourceType"].(string)
	w.path = append(w.path, rt...)
	w.resource(res, rt, []string{canonical}, true, false)
	r.Issues = dedupe(r.Issues)
	return r
}

func notRun(r Result, canonical string) bool {
	for _, n := range r.NotRun {
		if n == canonical {
			return true
		}
	}
	return false
}

func errorsOf(issues []validators.Issue) []validators.Issue {
	var out []validators.Issue
	for _, is := range issues {
		if is.Severity == validators.Error {
			out = append(out, is)
		}
	}
	return out
}

func warningsOf(issues []validators.Issue) []validators.Issue {
	var out []validators.Issue
	for _, is := range issues {
		if is.Severity == validators.Warning {
			out = append(out, is)
		}
	}
	return out
}

// weighed is an acceptable profile the resource was checked against, with
// the errors it gave.
type weighed struct {
	canonical string
	errors    []validators.Issue
}

func canonicals(ws []weighed) string {
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.canonical
	}
	return strings.Join(names, ", ")
}

func firstError(errs []validators.Issue) string {
	if len(errs) == 0 {
		return "no error"
	}
	e := errs[0]
	s := fmt.Sprintf("%d errors, first at %s: %s", len(errs), e.Path, e.Message)
	if len(errs) == 1 {
		s = fmt.Sprintf("1 error at %s: %s", e.Path, e.Message)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
