package fhirpath

import (
	"encoding/json"
	"strconv"
)

// JSONEqual reports whether two decoded JSON values are equal: objects with
// the same members, arrays item by item, and numbers by value whether they
// were decoded as json.Number or float64 (so 1.0 equals 1).
func JSONEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !JSONEqual(xv, yv) {
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
			if !JSONEqual(x[i], y[i]) {
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
