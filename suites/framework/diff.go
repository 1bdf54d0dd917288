package framework

import (
	"fmt"
	"slices"
	"strings"
)

// Difference is how what a scenario exported differs from what it had to:
// the keys missing and the keys that should not be there, counted, with the
// first few of each (in key order) as examples. Compare builds it in time
// linear in the keys: scenarios compare exports of any size with it, never
// with a matcher that pairs every element with every other.
type Difference struct {
	Missing, Unexpected     int
	MissingEg, UnexpectedEg []string
	WantCount, GotCount     int
}

// examples is how many keys of each kind a Difference keeps.
const examples = 5

// Compare compares the keys wanted with the keys got. Either side may be
// given as a set (map) for lookups; nothing is sorted but the examples.
func Compare(want, got map[string]bool) Difference {
	d := Difference{WantCount: len(want), GotCount: len(got)}
	for k := range want {
		if !got[k] {
			d.Missing++
			d.MissingEg = keepFirst(d.MissingEg, k)
		}
	}
	for k := range got {
		if !want[k] {
			d.Unexpected++
			d.UnexpectedEg = keepFirst(d.UnexpectedEg, k)
		}
	}
	return d
}

// Missing reports the keys of want that got lacks (got may hold more).
func Missing(want, got map[string]bool) Difference {
	d := Compare(want, got)
	d.Unexpected, d.UnexpectedEg = 0, nil
	return d
}

// Unexpected reports the keys of got that want lacks.
func Unexpected(want, got map[string]bool) Difference {
	d := Compare(want, got)
	d.Missing, d.MissingEg = 0, nil
	return d
}

// keepFirst keeps the smallest `examples` keys seen, in order: a constant
// bound, so the pass stays linear.
func keepFirst(kept []string, k string) []string {
	i, _ := slices.BinarySearch(kept, k)
	if i >= examples {
		return kept
	}
	kept = slices.Insert(kept, i, k)
	if len(kept) > examples {
		kept = kept[:examples]
	}
	return kept
}

// Empty reports whether the two sides agree.
func (d Difference) Empty() bool { return d.Missing == 0 && d.Unexpected == 0 }

// String says the difference in a sentence's words, e.g. "3 of 120
// expected resources missing (e.g. Observation/o1, ...); 2 unexpected
// (e.g. Patient/p9)".
func (d Difference) String() string {
	var parts []string
	if d.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d expected missing (e.g. %s)", d.Missing, d.WantCount, eg(d.MissingEg, d.Missing)))
	}
	if d.Unexpected > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d unexpected (e.g. %s)", d.Unexpected, d.GotCount, eg(d.UnexpectedEg, d.Unexpected)))
	}
	if len(parts) == 0 {
		return "no difference"
	}
	return strings.Join(parts, "; ")
}

func eg(keys []string, n int) string {
	s := strings.Join(keys, ", ")
	if n > len(keys) {
		s += ", …"
	}
	return s
}

// KeySet makes a set of keys.
func KeySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
