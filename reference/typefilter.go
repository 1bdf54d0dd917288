package reference

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// A typeFilter is one _typeFilter query, e.g. Observation?category=laboratory:
// a resource of Type matches when it meets every criterion.
type typeFilter struct {
	Type     string
	criteria []criterion
}

type criterion struct {
	param string
	kind  paramKind
	paths []string // JSON paths (dot-separated) of the element the parameter searches
	// values are alternatives (comma-separated in the query): any may match.
	values []string
}

type paramKind int

const (
	tokenParam paramKind = iota
	dateParam
	// referenceParam matches Reference.reference: "Type/id", or an
	// absolute URL ending in it.
	referenceParam
)

type searchParam struct {
	kind  paramKind
	paths []string
}

// searchParams are the search parameters _typeFilter supports, per type.
// They follow the FHIR R4 and US Core definitions of the same names; "*"
// holds the ones every type has.
var searchParams = map[string]map[string]searchParam{
	"*": {
		"_id":          {tokenParam, []string{"id"}},
		"_lastUpdated": {dateParam, []string{"meta.lastUpdated"}},
	},
	"Observation": {
		"category": {tokenParam, []string{"category"}},
		"code":     {tokenParam, []string{"code"}},
		"status":   {tokenParam, []string{"status"}},
		"date":     {dateParam, []string{"effectiveDateTime", "effectivePeriod.start", "effectiveInstant"}},
	},
	"Condition": {
		"category":        {tokenParam, []string{"category"}},
		"code":            {tokenParam, []string{"code"}},
		"clinical-status": {tokenParam, []string{"clinicalStatus"}},
		"onset-date":      {dateParam, []string{"onsetDateTime", "onsetPeriod.start"}},
	},
	"DiagnosticReport": {
		"category": {tokenParam, []string{"category"}},
		"code":     {tokenParam, []string{"code"}},
		"status":   {tokenParam, []string{"status"}},
		"date":     {dateParam, []string{"effectiveDateTime", "effectivePeriod.start"}},
	},
	"Encounter": {
		"class":  {tokenParam, []string{"class"}},
		"type":   {tokenParam, []string{"type"}},
		"status": {tokenParam, []string{"status"}},
		"date":   {dateParam, []string{"period.start"}},
	},
	"Procedure": {
		"code":   {tokenParam, []string{"code"}},
		"status": {tokenParam, []string{"status"}},
		"date":   {dateParam, []string{"performedDateTime", "performedPeriod.start"}},
	},
	"MedicationRequest": {
		"status":     {tokenParam, []string{"status"}},
		"intent":     {tokenParam, []string{"intent"}},
		"authoredon": {dateParam, []string{"authoredOn"}},
	},
	"Immunization": {
		"status":       {tokenParam, []string{"status"}},
		"vaccine-code": {tokenParam, []string{"vaccineCode"}},
		"date":         {dateParam, []string{"occurrenceDateTime"}},
	},
	"AllergyIntolerance": {
		"clinical-status": {tokenParam, []string{"clinicalStatus"}},
		"code":            {tokenParam, []string{"code"}},
	},
	"ExplanationOfBenefit": {
		"status":  {tokenParam, []string{"status"}},
		"type":    {tokenParam, []string{"type"}},
		"use":     {tokenParam, []string{"use"}},
		"created": {dateParam, []string{"created"}},
	},
	"Coverage": {
		"status": {tokenParam, []string{"status"}},
		"type":   {tokenParam, []string{"type"}},
	},
	"Patient": {
		"gender": {tokenParam, []string{"gender"}},
	},
}

// parseTypeFilter parses "Type?param=value&param=value".
func parseTypeFilter(q string) (*typeFilter, error) {
	typ, query, ok := strings.Cut(q, "?")
	if !ok || typ == "" || query == "" {
		return nil, fmt.Errorf("a _typeFilter is Type?query, e.g. Observation?category=laboratory")
	}
	if !isTypeName(typ) {
		return nil, fmt.Errorf("%q is not a resource type", typ)
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("malformed query: %v", err)
	}
	f := &typeFilter{Type: typ}
	for name, vs := range vals {
		base, modifier, _ := strings.Cut(name, ":")
		if modifier != "" {
			return nil, fmt.Errorf("search modifier :%s is not supported", modifier)
		}
		sp, ok := searchParams[typ][base]
		if !ok {
			sp, ok = searchParams["*"][base]
		}
		if !ok {
			return nil, fmt.Errorf("search parameter %q is not supported for %s", base, typ)
		}
		for _, v := range vs {
			c := criterion{param: base, kind: sp.kind, paths: sp.paths, values: strings.Split(v, ",")}
			if sp.kind == dateParam {
				for _, dv := range c.values {
					if _, _, _, err := parseDateSearch(dv); err != nil {
						return nil, fmt.Errorf("%s: %v", base, err)
					}
				}
			}
			f.criteria = append(f.criteria, c)
		}
	}
	// Sort for a deterministic evaluation order (map iteration is random).
	sortCriteria(f.criteria)
	return f, nil
}

func sortCriteria(cs []criterion) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].param < cs[j-1].param; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// match reports whether a decoded resource meets the filter.
func (f *typeFilter) match(res map[string]any) bool {
	for _, c := range f.criteria {
		if !c.match(res) {
			return false
		}
	}
	return true
}

func (c criterion) match(res map[string]any) bool {
	var found []any
	for _, p := range c.paths {
		found = append(found, lookup(res, strings.Split(p, "."))...)
	}
	for _, v := range c.values {
		switch c.kind {
		case tokenParam:
			if matchToken(found, v) {
				return true
			}
		case dateParam:
			if matchDate(found, v) {
				return true
			}
		case referenceParam:
			if matchReference(found, v) {
				return true
			}
		}
	}
	return false
}

// lookup follows a path through decoded JSON, flattening arrays.
func lookup(v any, path []string) []any {
	if len(path) == 0 {
		if arr, ok := v.([]any); ok {
			return arr
		}
		return []any{v}
	}
	switch t := v.(type) {
	case map[string]any:
		next, ok := t[path[0]]
		if !ok {
			return nil
		}
		return lookup(next, path[1:])
	case []any:
		var out []any
		for _, e := range t {
			out = append(out, lookup(e, path)...)
		}
		return out
	}
	return nil
}

// matchToken matches a token search value against codes, Codings,
// CodeableConcepts and Identifiers: "code" matches the code (or identifier
// value) in any system, "system|code" in that system only, "|code" only
// without a system, and "system|" any code in the system.
func matchToken(found []any, want string) bool {
	system, code, hasSystem := strings.Cut(want, "|")
	if !hasSystem {
		code, system = want, ""
	}
	for _, f := range found {
		for _, sc := range codings(f) {
			if hasSystem && sc[0] != system {
				continue
			}
			if code == "" && hasSystem && system != "" {
				return true // system| : any code of that system
			}
			if sc[1] == code {
				return true
			}
		}
	}
	return false
}

// codings returns the (system, code) pairs a token parameter sees in an
// element: a plain code, a Coding, each Coding of a CodeableConcept, or an
// Identifier's (system, value).
func codings(v any) [][2]string {
	switch t := v.(type) {
	case string:
		return [][2]string{{"", t}}
	case map[string]any:
		if cs, ok := t["coding"].([]any); ok {
			var out [][2]string
			for _, c := range cs {
				out = append(out, codings(c)...)
			}
			return out
		}
		system, _ := t["system"].(string)
		if code, _ := t["code"].(string); code != "" {
			return [][2]string{{system, code}}
		}
		// An Identifier; Quantity values are numbers and never match here.
		if value, _ := t["value"].(string); value != "" {
			return [][2]string{{system, value}}
		}
	}
	return nil
}

// matchReference matches a reference search value against References.
func matchReference(found []any, want string) bool {
	for _, f := range found {
		m, _ := f.(map[string]any)
		ref, _ := m["reference"].(string)
		if ref != "" && (ref == want || strings.HasSuffix(ref, "/"+want) || strings.HasSuffix(want, "/"+ref)) {
			return true
		}
	}
	return false
}

// parseDateSearch reads a date search value with an optional prefix and
// returns the prefix and the range [start, end) its precision covers.
func parseDateSearch(v string) (prefix string, start, end time.Time, err error) {
	prefix = "eq"
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
		switch prefix {
		case "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb":
		default:
			return "", time.Time{}, time.Time{}, fmt.Errorf("unknown prefix %q", prefix)
		}
	}
	start, end, err = dateRange(v)
	if err != nil {
		return "", time.Time{}, time.Time{}, err
	}
	return prefix, start, end, nil
}

// dateRange reads a FHIR date or dateTime and the span its precision covers.
func dateRange(v string) (time.Time, time.Time, error) {
	layouts := []struct {
		layout string
		span   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Second) }},
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, v); err == nil {
			return t, l.span(t), nil
		}
	}
	return time.Time{}, time.Time{}, fmt.Errorf("%q is not a FHIR date or dateTime", v)
}

func matchDate(found []any, want string) bool {
	prefix, ps, pe, err := parseDateSearch(want)
	if err != nil {
		return false
	}
	for _, f := range found {
		s, ok := f.(string)
		if !ok {
			continue
		}
		rs, re, err := dateRange(s)
		if err != nil {
			continue
		}
		var ok2 bool
		switch prefix {
		case "eq":
			ok2 = !rs.Before(ps) && !re.After(pe)
		case "ne":
			ok2 = rs.Before(ps) || re.After(pe)
		case "gt", "sa":
			ok2 = !rs.Before(pe)
		case "lt", "eb":
			ok2 = rs.Before(ps)
		case "ge":
			ok2 = !rs.Before(ps)
		case "le":
			ok2 = rs.Before(pe)
		}
		if ok2 {
			return true
		}
	}
	return false
}
