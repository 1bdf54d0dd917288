package framework

import (
	"fmt"
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		name                string
		want, got           []string
		missing, unexpected int
		missingEg           []string
		text                string
	}{
		{"equal", []string{"a", "b"}, []string{"b", "a"}, 0, 0, nil, "no difference"},
		{"one missing", []string{"a", "b"}, []string{"a"}, 1, 0, []string{"b"}, "1 of 2 expected missing (e.g. b)"},
		{"one unexpected", []string{"a"}, []string{"a", "z"}, 0, 1, nil, "1 of 2 unexpected (e.g. z)"},
		{"both", []string{"a", "b"}, []string{"b", "c"}, 1, 1, []string{"a"}, "1 of 2 expected missing (e.g. a); 1 of 2 unexpected (e.g. c)"},
		{"many missing keep the first five in order", []string{"g", "f", "e", "d", "c", "b", "a"}, nil, 7, 0,
			[]string{"a", "b", "c", "d", "e"}, "7 of 7 expected missing (e.g. a, b, c, d, e, …)"},
		{"both empty", nil, nil, 0, 0, nil, "no difference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Compare(KeySet(tt.want...), KeySet(tt.got...))
			if d.Missing != tt.missing || d.Unexpected != tt.unexpected {
				t.Errorf("missing %d unexpected %d, want %d and %d", d.Missing, d.Unexpected, tt.missing, tt.unexpected)
			}
			if fmt.Sprint(d.MissingEg) != fmt.Sprint(tt.missingEg) {
				t.Errorf("missing examples %v, want %v", d.MissingEg, tt.missingEg)
			}
			if d.String() != tt.text {
				t.Errorf("String() = %q, want %q", d.String(), tt.text)
			}
			if d.Empty() != (tt.missing == 0 && tt.unexpected == 0) {
				t.Errorf("Empty() = %v", d.Empty())
			}
		})
	}
	if d := Missing(KeySet("a"), KeySet("b")); d.Missing != 1 || d.Unexpected != 0 {
		t.Errorf("Missing: %+v", d)
	}
	if d := Unexpected(KeySet("a"), KeySet("b")); d.Missing != 0 || d.Unexpected != 1 {
		t.Errorf("Unexpected: %+v", d)
	}
}
