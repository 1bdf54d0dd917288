package fhirpath

import (
	"encoding/json"
	"testing"
)

func TestJSONEqual(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{json.Number("1.0"), json.Number("1"), true},
		{json.Number("1.5"), 1.5, true},
		{1.0, json.Number("1"), true},
		{json.Number("2"), json.Number("3"), false},
		{json.Number("1"), "1", false},
		{"a", "a", true},
		{true, false, false},
		{nil, nil, true},
		{map[string]any{"x": json.Number("1"), "y": []any{"a"}}, map[string]any{"x": 1.0, "y": []any{"a"}}, true},
		{map[string]any{"x": "a"}, map[string]any{"x": "a", "y": "b"}, false},
		{map[string]any{"x": nil}, map[string]any{"y": nil}, false},
		{[]any{"a", "b"}, []any{"b", "a"}, false},
	}
	for _, tt := range tests {
		if got := JSONEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("JSONEqual(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
