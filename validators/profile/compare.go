package profile

import (
	"encoding/json"
	"strconv"
)

// fixedPattern checks a value against the element's fixed[x] (exact
// equality) and pattern[x] (the value holds at least what the pattern
// says: every property of the pattern present with a matching value, and
// every item of a pattern array matched by some item of the value).
func (w *walker) fixedPattern(e *elem, val any) {
	if e.fixed != nil && !equalJSON(e.fixed, val) {
		w.errorf("", e.id, "value %s does not equal the fixed value %s", compactJSON(val), compactJSON(e.fixed))
	}
	if e.pattern != nil && !matchesPattern(e.pattern, val) {
		w.errorf("", e.id, "value %s does not match the pattern %s", compactJSON(val), compactJSON(e.pattern))
	}
}

func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalJSON(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		return numberEqual(x, b)
	case float64:
		return numberEqual(json.Number(strconv.FormatFloat(x, 'g', -1, 64)), b)
	default:
		return a == b
	}
}

func numberEqual(x json.Number, b any) bool {
	var y json.Number
	switch v := b.(type) {
	case json.Number:
		y = v
	case float64:
		y = json.Number(strconv.FormatFloat(v, 'g', -1, 64))
	default:
		return false
	}
	if x == y {
		return true
	}
	fx, err1 := x.Float64()
	fy, err2 := y.Float64()
	return err1 == nil && err2 == nil && fx == fy
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
		return equalJSON(p, v)
	}
}
