package profile

import "github.com/pdex-conform/pdex-conform/validators/profile/fhirpath"

// fixedPattern checks a value against the element's fixed[x] (exact
// equality) and pattern[x] (the value holds at least what the pattern
// says: every property of the pattern present with a matching value, and
// every item of a pattern array matched by some item of the value).
func (w *walker) fixedPattern(e *elem, val any) {
	if e.fixed != nil && !fhirpath.JSONEqual(e.fixed, val) {
		w.errorf("", e.id, "value %s does not equal the fixed value %s", compactJSON(val), compactJSON(e.fixed))
	}
	if e.pattern != nil && !matchesPattern(e.pattern, val) {
		w.errorf("", e.id, "value %s does not match the pattern %s", compactJSON(val), compactJSON(e.pattern))
	}
}

func matchesPattern(p, v any) bool {
	switch x := p.(type) {
	case map[string]any:
		y, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k, pv := range x {
			yv, ok := y[k]
			if !ok || !matchesPattern(pv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := v.([]any)
		if !ok {
			// A pattern array against a single value (a repeating element
			// compared one occurrence at a time).
			return len(x) == 1 && matchesPattern(x[0], v)
		}
		for _, pv := range x {
			found := false
			for _, yv := range y {
				if matchesPattern(pv, yv) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	default:
		return fhirpath.JSONEqual(p, v)
	}
}
