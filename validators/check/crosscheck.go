package check

import (
	"fmt"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/profile"
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
	return disagreements(ours, c.parse(raw))
}

// disagreements compares two lists of structural errors on one resource:
// the snapshot engine's (ours) and google/fhir/go's (theirs). An error of
// one side agrees with the other side when that side has an error at the
// same element, or at an element within it or containing it (the two do
// not stop at the same depth: google/fhir/go reports an unknown property
// of a nested resource at the resource, the engine at the property). Each
// error without such a counterpart is a disagreement, reported as a
// warning. Errors without a path (the JSON itself) agree with any error.
func disagreements(ours, theirs []validators.Issue) []validators.Issue {
	ourPaths, theirPaths := pathIndex(ours), pathIndex(theirs)
	var out []validators.Issue
	for _, is := range theirs {
		if is.Severity == validators.Error && !ourPaths.covers(is.Path) {
			out = append(out, validators.Issue{Severity: validators.Warning, Path: is.Path, Rule: RuleCrossCheck,
				Message: fmt.Sprintf("google/fhir/go finds an error the snapshot engine does not: %s", is.Message)})
		}
	}
	for _, is := range ours {
		if !theirPaths.covers(is.Path) {
			out = append(out, validators.Issue{Severity: validators.Warning, Path: is.Path, Rule: RuleCrossCheck,
				Message: fmt.Sprintf("the snapshot engine finds an error google/fhir/go does not: %s", is.Message)})
		}
	}
	return out
}

// paths indexes the element paths of a list of errors, with every prefix
// of each (at an element boundary), so that whether a path is within,
// equal to or around one of them is a few map lookups.
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
		p.exact[path] = true
		for i := range len(path) {
			if path[i] == '.' || path[i] == '[' {
				p.prefixes[path[:i]] = true
			}
		}
		p.prefixes[path] = true
	}
	return p
}

// covers reports whether an error at path has a counterpart in p: an
// error at the path, within it, or around it.
func (p paths) covers(path string) bool {
	path = normPath(path)
	if p.any || path == "" || p.prefixes[path] {
		return true
	}
	for i := range len(path) {
		if (path[i] == '.' || path[i] == '[') && p.exact[path[:i]] {
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
