// Package check runs every check pdex-conform has on one resource: base
// FHIR R4 structure (google/fhir/go), the profiles the resource claims and
// those the edition expects for it, and the Provider Access rules that are
// not profile constraints. `pdex-conform validate` and the benchmarks use
// it, so that what is measured is what users run.
package check

import (
	"sync"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
	"github.com/pdex-conform/pdex-conform/validators/profile"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// Options choose what is checked beyond structure.
type Options struct {
	// Edition of the PDex IG whose expected profiles apply ("" = 2.0.0).
	Edition string
	// Profiles are extra profile canonicals every resource is checked
	// against.
	Profiles []string
	// NoFinancialRule leaves out the PDex rule against remittance and
	// cost-sharing in claim EOBs, for callers that check it on their own
	// (the suites report it under its own requirement).
	NoFinancialRule bool
	// Summary, when set, counts the checks that could not be made offline
	// (issues with NotChecked set) once per value set, code system or
	// profile, instead of returning them with each resource.
	Summary *validators.Summary
}

// Checker validates resources. It is safe for concurrent use.
type Checker struct {
	opts    Options
	prof    *profile.Validator
	parsers sync.Pool // *r4.Parser: not safe for concurrent use
}

// New returns a Checker; reg may be nil, and then only structure and the
// PDex rules are checked.
func New(reg *packages.Registry, o Options) *Checker {
	if o.Edition == "" {
		o.Edition = "2.0.0"
	}
	c := &Checker{opts: o}
	if reg != nil {
		c.prof = profile.New(reg, profile.Options{})
	}
	c.parsers.New = func() any {
		p, err := r4.New()
		if err != nil {
			panic(err) // only fails for an unknown FHIR version
		}
		return p
	}
	return c
}

// Profiles reports whether profiles are checked.
func (c *Checker) Profiles() bool { return c.prof != nil }

// Check validates one resource (raw JSON) and returns its issues.
func (c *Checker) Check(raw []byte) []validators.Issue { return c.CheckAs("", raw) }

// CheckAs is Check for a resource expected to be of type fallback when it
// does not say what it is (its resourceType wins when present).
func (c *Checker) CheckAs(fallback string, raw []byte) []validators.Issue {
	p := c.parsers.Get().(*r4.Parser)
	issues := p.Check(raw)
	c.parsers.Put(p)
	// The JSON is decoded once for the profiles and the PDex rules; only
	// google/fhir/go, which takes bytes, parses it on its own.
	doc := profile.Decode(raw)
	obj := doc.Object()
	if obj != nil && !c.opts.NoFinancialRule {
		issues = append(issues, pdex.FinancialIssuesOf(obj)...)
	}
	if c.prof != nil {
		typ, _ := obj["resourceType"].(string)
		if typ == "" {
			typ = fallback
		}
		// The resource meets the profiles it claims and those asked for,
		// and at least one of those its edition accepts for it.
		exp := pdex.ExpectedOf(c.opts.Edition, typ, obj)
		issues = append(issues, c.prof.ValidateExpected(doc, c.opts.Profiles, exp.AnyOf, exp.Label).Issues...)
	}
	if c.opts.Summary != nil {
		issues = c.opts.Summary.Absorb(issues)
	}
	return issues
}
