// Package profile validates FHIR R4 resources, as JSON, against
// StructureDefinition snapshots from the loaded packages: the base
// definition of the resource's type and the profiles it is asked to meet.
//
// It checks cardinality, types and choice types, fixed and pattern values,
// slicing, extensions, bindings against local value sets, reference
// targets, and the FHIRPath invariants of the definitions (with its own
// evaluator, covering what the shipped profiles use). Each definition is
// compiled once into a plan, shared by all goroutines.
package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/jsonscan"
	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// Options tunes what the validator reports beyond errors and warnings.
type Options struct {
	// MustSupportInfo adds an Information issue for each must-support
	// element of a profile that the resource does not carry (they are
	// always listed in Result.MustSupportMissing).
	MustSupportInfo bool
	// InvariantInfo adds an Information issue for each invariant that
	// could not be evaluated (they are always counted in the Result).
	InvariantInfo bool
	// BestPractice evaluates best-practice invariants (such as dom-6, "a
	// resource should have narrative") and reports failures as warnings.
	BestPractice bool
	// BaseOnly validates against the base definitions of FHIR R4 alone:
	// profiles asked for or claimed in meta.profile are not checked (nor
	// listed in Result.NotRun).
	BaseOnly bool
}

// Result is the outcome of validating one resource.
type Result struct {
	Issues []validators.Issue
	// Checked lists the definitions the resource was validated against:
	// the base definition of its type and each profile found.
	Checked []string
	// NotRun lists the profiles asked for or claimed that are not loaded,
	// so were not checked.
	NotRun []string
	// InvariantsEvaluated counts invariant evaluations (one per invariant
	// per element occurrence); InvariantsUnsupported counts those that
	// could not be evaluated (an expression or function the evaluator does
	// not support, or a reference it cannot resolve). An unsupported
	// invariant is never reported as an error.
	InvariantsEvaluated   int
	InvariantsUnsupported int
	// UnsupportedInvariants lists the keys of the invariants not evaluated.
	UnsupportedInvariants []string
	// MustSupportMissing lists the ids of must-support elements the
	// resource does not carry.
	MustSupportMissing []string

	// structural marks the issues (by index) that break base FHIR R4
	// itself rather than a profile; see Structural. It may be shorter
	// than Issues: the issues past its end are not structural.
	structural []bool
}

// Errors counts the error issues.
func (r *Result) Errors() int { return validators.CountErrors(r.Issues) }

// markStructural marks issue i as structural. Issues appended to Issues
// without a mark (by any code of the package) are not structural.
func (r *Result) markStructural(i int) {
	for len(r.structural) <= i {
		r.structural = append(r.structural, false)
	}
	r.structural[i] = true
}

// Structural reports whether issue i breaks base FHIR R4 itself: the JSON
// form (syntax, repeated properties, arrays, null and empty values),
// unknown elements and resource types, types and choice types, primitive
// formats, and the cardinality, required bindings and reference targets
// of the base definitions. Profile constraints, invariants (FHIRPath, base
// ones included) and the Bundle fullUrl rule are not structural. A
// profile's snapshot repeats its base, so one walk over a profile finds
// both kinds; each is told apart by the element's base definition
// (ElementDefinition.base).
func (r *Result) Structural(i int) bool { return i < len(r.structural) && r.structural[i] }

// StructuralErrors counts the structural error issues.
func (r *Result) StructuralErrors() int {
	n := 0
	for i, is := range r.Issues {
		if is.Severity == validators.Error && r.Structural(i) {
			n++
		}
	}
	return n
}

// Validator validates resources against the definitions of a registry. It
// is safe for concurrent use.
type Validator struct {
	reg  *packages.Registry
	opts Options

	mu    sync.Mutex
	plans map[string]*planSlot

	exprs      *exprCache
	terms      *terminology
	childTypes sync.Map // childTypeKey -> childTypeVal

	resourceTypes map[string]bool
}

type planSlot struct {
	once sync.Once
	p    *plan
	err  error
}

// New returns a validator over the definitions in reg.
func New(reg *packages.Registry, opts Options) *Validator {
	v := &Validator{
		reg:           reg,
		opts:          opts,
		plans:         map[string]*planSlot{},
		exprs:         newExprCache(),
		resourceTypes: map[string]bool{},
	}
	v.terms = newTerminology(reg)
	for _, e := range reg.Entries(packages.TypeStructureDefinition) {
		if e.Kind == "resource" && strings.HasPrefix(e.URL, "http://hl7.org/fhir/StructureDefinition/") &&
			e.URL == "http://hl7.org/fhir/StructureDefinition/"+e.Type {
			v.resourceTypes[e.Type] = true
		}
	}
	return v
}

// IsResourceType reports whether name is a resource type of base FHIR R4
// (as the loaded base definitions define them).
func (v *Validator) IsResourceType(name string) bool { return v.resourceTypes[name] }

// planFor returns the compiled plan of a canonical (possibly versioned),
// compiling it on first use. It returns (nil, nil) when no such definition
// is loaded.
func (v *Validator) planFor(canonical string) (*plan, error) {
	v.mu.Lock()
	s, ok := v.plans[canonical]
	if !ok {
		s = &planSlot{}
		v.plans[canonical] = s
	}
	v.mu.Unlock()
	s.once.Do(func() {
		sd, err := v.reg.StructureDefinition(canonical)
		if err != nil || sd == nil {
			s.err = err
			return
		}
		s.p, s.err = compile(sd, v.exprs)
	})
	return s.p, s.err
}

// basePlan returns the plan of a FHIR type's base definition.
func (v *Validator) basePlan(typ string) (*plan, error) {
	return v.planFor("http://hl7.org/fhir/StructureDefinition/" + typ)
}

// Validate checks one resource (raw JSON) against the base definition of
// its type, the given profiles (canonicals, possibly "url|version") and
// the profiles it claims in meta.profile.
func (v *Validator) Validate(raw []byte, profiles ...string) Result {
	return v.ValidateDocument(Decode(raw), profiles...)
}

// Document is a resource decoded once, so that other checks can read it
// without parsing the JSON again (see Decode).
type Document struct {
	obj  map[string]any
	dups []string
	err  error
}

// Decode parses a resource with the validator's decoder (one pass; objects
// as map[string]any, numbers as json.Number, as encoding/json with
// UseNumber gives them).
func Decode(raw []byte) *Document {
	if err := jsonscan.Default.Check(raw); err != nil {
		return &Document{err: fmt.Errorf("invalid JSON: %w", err)}
	}
	res, dups, err := decodeJSON(raw)
	if err != nil {
		return &Document{err: fmt.Errorf("invalid JSON: %w", err)}
	}
	obj, ok := res.(map[string]any)
	if !ok {
		return &Document{err: errors.New("not a JSON object")}
	}
	return &Document{obj: obj, dups: dups}
}

// Object is the decoded resource; nil when the JSON is not an object.
// Callers must not modify it.
func (d *Document) Object() map[string]any { return d.obj }

// Err says why the document is not a JSON object, or is nil.
func (d *Document) Err() error { return d.err }

// ValidateDocument is Validate for a decoded document.
func (v *Validator) ValidateDocument(d *Document, profiles ...string) Result {
	if d.err != nil {
		return Result{Issues: []validators.Issue{{Severity: validators.Error, Message: d.err.Error(), Rule: "json"}}, structural: []bool{true}}
	}
	r := v.ValidateDecoded(d.obj, profiles...)
	for _, k := range d.dups {
		// FHIR JSON allows each property once; the decoder kept the last.
		r.Issues = append(r.Issues, validators.Issue{Severity: validators.Error, Message: fmt.Sprintf("property %q appears more than once in an object", k), Rule: "json"})
		r.markStructural(len(r.Issues) - 1)
	}
	return r
}

// ValidateDecoded is Validate for a resource already decoded by
// encoding/json (with UseNumber, so numbers are json.Number).
func (v *Validator) ValidateDecoded(res map[string]any, profiles ...string) Result {
	var r Result
	w := &walker{v: v, res: &r, path: make([]byte, 0, 128)}
	rt, _ := res["resourceType"].(string)
	if rt == "" {
		w.structf("", "Resource.resourceType", "resource has no resourceType")
		return r
	}
	w.path = append(w.path, rt...)
	if v.opts.BaseOnly {
		profiles = nil
	}
	w.resource(res, rt, profiles, true, false)
	w.finish()
	r.dedupe()
	return r
}

// dedupe drops repeated issues: the same problem found by the base
// definition and by a profile, or by two profiles, is reported once. Each
// kept issue keeps its structural mark (issues appended to r.Issues
// without one are not structural).
func (r *Result) dedupe() {
	if len(r.Issues) < 2 {
		return
	}
	type key struct {
		sev       validators.Severity
		path, msg string
	}
	seen := make(map[key]bool, len(r.Issues))
	out, marks := r.Issues[:0], make([]bool, 0, len(r.Issues))
	for i, is := range r.Issues {
		k := key{is.Severity, is.Path, is.Message}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, is)
		marks = append(marks, r.Structural(i))
	}
	r.Issues, r.structural = out, marks
}

// profileList merges the profiles asked for and those claimed, dropping
// duplicates (a versioned and an unversioned form of the same canonical
// count as different: both are resolved).
func profileList(asked []string, meta any) []string {
	var out []string
	add := func(p string) {
		p = strings.TrimSpace(p)
		if p == "" {
			return
		}
		for _, o := range out {
			if o == p {
				return
			}
		}
		out = append(out, p)
	}
	for _, p := range asked {
		add(p)
	}
	if m, ok := meta.(map[string]any); ok {
		if ps, ok := m["profile"].([]any); ok {
			for _, p := range ps {
				if s, ok := p.(string); ok {
					add(s)
				}
			}
		}
	}
	return out
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
