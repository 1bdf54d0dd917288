package auth

import (
	"errors"
	"fmt"
	"strings"
)

// maxScopes bounds the number of scope tokens in one request.
const maxScopes = 64

// scope is one SMART scope, "context/resource.permissions[?query]" with
// SMART v1 permissions (read, write, *) or v2 ones (a subset of c r u d s,
// in that order). Other scope strings are kept whole and only ever match
// themselves.
type scope struct {
	raw      string
	smart    bool
	context  string // system, user, patient
	resource string // "*" or a resource type
	perms    string // canonical subset of "cruds"
	query    string
}

func parseScope(raw string) scope {
	s := scope{raw: raw}
	rest, query, _ := strings.Cut(raw, "?")
	ctx, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return s
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return s
	}
	resource, perms := rest[:dot], rest[dot+1:]
	if ctx != "system" && ctx != "user" && ctx != "patient" {
		return s
	}
	if resource != "*" && !isResourceType(resource) {
		return s
	}
	canon, ok := canonicalPerms(perms)
	if !ok {
		return s
	}
	return scope{raw: raw, smart: true, context: ctx, resource: resource, perms: canon, query: query}
}

// canonicalPerms maps SMART v1 and v2 permission strings to the v2 letters:
// read = rs, write = cud, * = cruds (SMART App Launch 2.x, scopes-v2).
func canonicalPerms(p string) (string, bool) {
	switch p {
	case "read":
		return "rs", true
	case "write":
		return "cud", true
	case "*":
		return "cruds", true
	}
	if p == "" {
		return "", false
	}
	// v2 letters must appear in the order c, r, u, d, s, each at most once.
	i := 0
	const order = "cruds"
	for _, ch := range []byte(p) {
		j := strings.IndexByte(order[i:], ch)
		if j < 0 {
			return "", false
		}
		i += j + 1
	}
	return p, true
}

func isResourceType(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, ch := range []byte(s) {
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z') {
			return false
		}
	}
	return true
}

// covers reports whether granting a permits everything r asks for.
func (a scope) covers(r scope) bool {
	if !a.smart || !r.smart {
		return a.raw == r.raw
	}
	if a.context != r.context || (a.resource != "*" && a.resource != r.resource) {
		return false
	}
	for _, ch := range []byte(r.perms) {
		if !strings.ContainsRune(a.perms, rune(ch)) {
			return false
		}
	}
	// A scope restricted by a query only covers the same restriction.
	return a.query == "" || a.query == r.query
}

// splitScopes splits a space-separated scope parameter (RFC 6749 §3.3),
// checking the scope-token characters and dropping repeats.
func splitScopes(s string) ([]string, error) {
	fields := strings.Split(s, " ")
	var out []string
	seen := map[string]bool{}
	for _, f := range fields {
		if f == "" {
			continue
		}
		for _, ch := range []byte(f) {
			// scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
			if ch < 0x21 || ch == 0x22 || ch == 0x5C || ch > 0x7E {
				return nil, fmt.Errorf("scope %q holds a character RFC 6749 does not allow", f)
			}
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
		if len(out) > maxScopes {
			return nil, fmt.Errorf("more than %d scopes requested", maxScopes)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scope requested (SMART Backend Services requires one, e.g. system/*.read)")
	}
	return out, nil
}

// grantable returns the scopes of requested that allowed covers.
func grantable(requested []string, allowed []string) (granted, refused []string) {
	al := make([]scope, len(allowed))
	for i, a := range allowed {
		al[i] = parseScope(a)
	}
	for _, r := range requested {
		rs := parseScope(r)
		ok := false
		for _, a := range al {
			if a.covers(rs) {
				ok = true
				break
			}
		}
		if ok {
			granted = append(granted, r)
		} else {
			refused = append(refused, r)
		}
	}
	return granted, refused
}
