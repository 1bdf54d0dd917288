// Package check runs every check pdex-conform has on one resource: base
// FHIR R4 structure, the profiles the resource claims and those the
// edition expects for it, and the Provider Access rules that are not
// profile constraints. `pdex-conform validate` and the benchmarks use it,
// so that what is measured is what users run.
//
// With FHIR packages loaded, the snapshot engine (package profile) checks
// base R4 structure in the same walk as the profiles, from the R4
// definitions themselves. google/fhir/go, an independent implementation
// of R4, checks structure only when no package is loaded, and, as a
// cross-check, when Options.CrossCheck asks for it.
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
	// StructureOnly checks base FHIR R4 structure without any profile,
	// claimed or expected (the PDex rules still apply, unless
	// NoFinancialRule).
	StructureOnly bool
	// CrossCheck also parses each resource with google/fhir/go and reports,
	// as warnings under RuleCrossCheck, every structural finding on which
	// it and the snapshot engine disagree. It needs the packages (without
	// them google/fhir/go is the only structure check) and roughly
	// triples the cost of validation.
	CrossCheck bool
	// Summary, when set, counts the checks that could not be made offline
	// (issues with NotChecked set) once per value set, code system or
	// profile, instead of returning them with each resource.
	Summary *validators.Summary
}

// RuleCrossCheck names the warnings of Options.CrossCheck.
const RuleCrossCheck = "r4-cross-check"

// Checker validates resources. It is safe for concurrent use.
type Checker struct {
	opts    Options
	prof    *profile.Validator
	parsers sync.Pool // *r4.Parser: not safe for concurrent use
}

// New returns a Checker; reg may be nil, and then only structure (by
// google/fhir/go) and the PDex rules are checked.
func New(reg *packages.Registry, o Options) *Checker {
	if o.Edition == "" {
		o.Edition = "2.0.0"
	}
	c := &Checker{opts: o}
	if reg != nil {
		c.prof = profile.New(reg, profile.Options{BaseOnly: o.StructureOnly})
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
func (c *Checker) Profiles() bool { return c.prof != nil && !c.opts.StructureOnly }

// Check validates one resource (raw JSON) and returns its issues.
func (c *Checker) Check(raw []byte) []validators.Issue { return c.CheckAs("", raw) }

// CheckAs is Check for a resource expected to be of type fallback when it
// does not say what it is (its resourceType wins when present).
func (c *Checker) CheckAs(fallback string, raw []byte) []validators.Issue {
	// The JSON is decoded once, for the structure, the profiles and the
	// PDex rules.
	doc := profile.Decode(raw)
	obj := doc.Object()
	var issues []validators.Issue
	if c.prof == nil {
		issues = c.parse(raw)
	}
	if obj != nil && !c.opts.NoFinancialRule {
		issues = append(issues, pdex.FinancialIssuesOf(obj)...)
	}
	if c.prof != nil {
		var r profile.Result
		if c.opts.StructureOnly {
			r = c.prof.ValidateDocument(doc) // a BaseOnly validator
		} else {
			typ, _ := obj["resourceType"].(string)
			if typ == "" {
				typ = fallback
			}
			// The resource meets the profiles it claims and those asked
			// for, and at least one of those its edition accepts for it.
			exp := pdex.ExpectedOf(c.opts.Edition, typ, obj)
			r = c.prof.ValidateExpected(doc, c.opts.Profiles, exp.AnyOf, exp.Label)
		}
		for i, is := range r.Issues {
			if r.Structural(i) {
				// One rule names base R4 structure, whichever
				// implementation found the breach (the suites count
				// these apart).
				is.Rule = r4.Rule
			}
			issues = append(issues, is)
		}
		if c.opts.CrossCheck {
			issues = append(issues, c.crossCheck(raw, &r)...)
		}
	}
	if c.opts.Summary != nil {
		issues = c.opts.Summary.Absorb(issues)
	}
	return issues
}

// parse checks structure with google/fhir/go.
func (c *Checker) parse(raw []byte) []validators.Issue {
	p := c.parsers.Get().(*r4.Parser)
	defer c.parsers.Put(p)
	return p.Check(raw)
}
