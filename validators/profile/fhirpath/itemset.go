package fhirpath

import (
	"encoding/json"
	"hash/maphash"
	"math"
	"strconv"
)

// itemSet holds items for the FHIRPath functions that compare every item
// of a collection with every item of another (union, distinct,
// isDistinct, subsetOf, intersect, exclude...): items are bucketed by a
// hash that equal items (itemsEqual) share, so that each lookup compares
// with the few items of one bucket rather than the whole collection. Over
// a Bundle's thousands of entries (bdl-7) that is the difference between
// linear and quadratic.
type itemSet struct {
	buckets map[uint64][]Item
	n       int
}

var itemSeed = maphash.MakeSeed()

func newItemSet(c []Item) *itemSet {
	s := &itemSet{buckets: make(map[uint64][]Item, len(c))}
	for _, it := range c {
		s.add(it)
	}
	return s
}

// has reports whether an item equal to it is in the set.
func (s *itemSet) has(it Item) bool {
	for _, o := range s.buckets[itemHash(it)] {
		if eq, ok := itemsEqual(o, it); ok && eq {
			return true
		}
	}
	return false
}

// add adds it unless an equal item is in the set, and reports whether it
// did.
func (s *itemSet) add(it Item) bool {
	h := itemHash(it)
	for _, o := range s.buckets[h] {
		if eq, ok := itemsEqual(o, it); ok && eq {
			return false
		}
	}
	s.buckets[h] = append(s.buckets[h], it)
	s.n++
	return true
}

// itemHash hashes an item so that items equal by itemsEqual hash alike:
// dates, which compare by instant and precision, all share one bucket;
// numbers hash by value (1 and 1.0 alike); other values by their JSON
// content, objects whatever the order of their members.
func itemHash(it Item) uint64 {
	if s, ok := it.V.(string); ok {
		if looksLikeDate(s) {
			return maphash.String(itemSeed, "\x00date")
		}
		return maphash.String(itemSeed, s)
	}
	if n := num(it); n.ok {
		return floatHash(n.f)
	}
	return jsonHash(it.V)
}

func floatHash(f float64) uint64 {
	if f == 0 {
		f = 0 // -0 and 0 are equal
	}
	return math.Float64bits(f)*0x9e3779b97f4a7c15 + 1
}

// jsonHash hashes a decoded JSON value as JSONEqual compares it.
func jsonHash(v any) uint64 {
	switch x := v.(type) {
	case map[string]any:
		var h uint64 = 0x51
		for k, c := range x {
			// members are added, so their order does not matter
			h += (maphash.String(itemSeed, k) ^ jsonHash(c)) * 0x100000001b3
		}
		return h
	case []any:
		var h uint64 = 0x5b
		for _, c := range x {
			h = (h ^ jsonHash(c)) * 0x100000001b3
		}
		return h
	case string:
		return maphash.String(itemSeed, x)
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return floatHash(f)
		}
		return maphash.String(itemSeed, string(x))
	case float64:
		return floatHash(x)
	case int64:
		return floatHash(float64(x))
	case bool:
		if x {
			return 0x74
		}
		return 0x66
	}
	return 0x6e
}
