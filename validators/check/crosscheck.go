package check

import (
	"fmt"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/profile"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// crossCheck parses a resource with google/fhir/go and compares its
// structural errors with those the snapshot engine found (in r).
func (c *Checker) crossCheck(raw []byte, r *profile.Result) []validators.Issue {
	var ours []validators.Issue
	for i, is := range r.Issues {
		if is.Severity == validators.Error && r.Structural(i) {
			ours = append(ours, is)
		}
	}
	p := c.parsers.Get().(*r4.Parser)
	theirs, complete := p.Parse(raw)
	c.parsers.Put(p)
	for i := range theirs {
		theirs[i].Path = c.theirPath(theirs[i].Path)
	}
	return disagreements(ours, theirs, complete)
}

// theirPath writes a google/fhir/go path as the engine does: it names the
// type of a nested resource after the element that holds it
// ("Bundle.entry[2].resource.Patient.name", "...resource.patient.name",
// "List.contained[0].Condition.code"), which the engine leaves out.
func (c *Checker) theirPath(p string) string {
	segs := strings.Split(p, ".")
	out := segs[:0]
	for i, s := range segs {
		if i > 0 && i < len(segs) && c.nestedType(segs[i-1], s) {
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, ".")
}

// nestedType reports whether seg names the type of a resource held by the
// element prev (a resource element: "resource", "contained[0]").
func (c *Checker) nestedType(prev, seg string) bool {
	name, _, _ := strings.Cut(prev, "[")
	if name != "resource" && name != "contained" && name != "outcome" || seg == "" {
		return false
	}
	t := strings.ToUpper(seg[:1]) + seg[1:]
	return c.prof.IsResourceType(t) && !strings.ContainsRune(seg, '[')
}

// disagreements compares two lists of structural errors on one resource:
// the snapshot engine's (ours) and google/fhir/go's (theirs). An error of
// one side agrees with the other side when that side has an error at the
// same element, or at an element within it or containing it (the two do
// not stop at the same depth: google/fhir/go reports an unknown property
// of a nested resource at the resource, the engine at the property). Each
// error without such a counterpart is a disagreement, reported as a
// warning. Errors without a path (the JSON itself) agree with any error.
// When an error stopped google/fhir/go's parse (complete is false), it did
// not look at the rest: only its own errors are compared.
func disagreements(ours, theirs []validators.Issue, complete bool) []validators.Issue {
	ourPaths, theirPaths := pathIndex(ours), pathIndex(theirs)
	var out []validators.Issue
	for _, is := range theirs {
		if is.Severity == validators.Error && !ourPaths.covers(is.Path) {
			out = append(out, validators.Issue{Severity: validators.Warning, Path: is.Path, Rule: RuleCrossCheck,
				Message: fmt.Sprintf("google/fhir/go finds an error the snapshot engine does not: %s", is.Message)})
		}
	}
	for _, is := range ours {
		if complete && !theirPaths.covers(is.Path) {
			out = append(out, validators.Issue{Severity: validators.Warning, Path: is.Path, Rule: RuleCrossCheck,
				Message: fmt.Sprintf("the snapshot engine finds an error google/fhir/go does not: %s", is.Message)})
		}
	}
	return out
}

// paths indexes the element paths of a list of errors, with every prefix
// of each (at an element boundary), so that whether a path is within,
// equal to or around one of them is a few map lookups. Paths are compared
// in a loose form, without dots and in lower case: google/fhir/go writes
// a choice element's type as a step of its own ("value.quantity"), the
// engine as the JSON property does ("valueQuantity").
type paths struct {
	exact    map[string]bool // the paths of the errors
	prefixes map[string]bool // every path within which an error lies
	any      bool            // an error without a path
}

func pathIndex(issues []validators.Issue) paths {
	p := paths{exact: map[string]bool{}, prefixes: map[string]bool{}}
	for _, is := range issues {
		if is.Severity != validators.Error {
			continue
		}
		path := normPath(is.Path)
		if path == "" {
			p.any = true
			continue
		}
		p.exact[loose(path)] = true
		for i := range len(path) {
			if path[i] == '.' || path[i] == '[' {
				p.prefixes[loose(path[:i])] = true
			}
		}
		p.prefixes[loose(path)] = true
	}
	return p
}

// covers reports whether an error at path has a counterpart in p: an
// error at the path, within it, or around it.
func (p paths) covers(path string) bool {
	path = normPath(path)
	if p.any || path == "" || p.prefixes[loose(path)] {
		return true
	}
	for i := range len(path) {
		if (path[i] == '.' || path[i] == '[') && p.exact[loose(path[:i])] {
			return true
		}
	}
	return false
}

// normPath drops what the two implementations write differently in a
// path: a primitive's "_name" (its id and extensions) is the element name.
func normPath(p string) string {
	if !strings.Contains(p, "._") {
		return p
	}
	return strings.ReplaceAll(p, "._", ".")
}

// loose is a path without dots, in lower case.
func loose(p string) string {
	return strings.ToLower(strings.ReplaceAll(p, ".", ""))
}
