package profile

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestMangledInputs validates shipped examples with values swapped for
// values of other JSON kinds, keys renamed and arrays emptied, at random
// (seeded, so failures reproduce): whatever the input, validation returns
// a result, never panics, and reports the damage as errors.
func TestMangledInputs(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{MustSupportInfo: true, InvariantInfo: true, BestPractice: true})
	var raws [][]byte
	for _, p := range reg.Packages() {
		if p.Name == "hl7.fhir.r4.examples" {
			continue
		}
		if err := reg.WalkExamples(p.ID(), func(ex packages.Example) error {
			raws = append(raws, ex.Raw)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	replacements := []any{nil, true, json.Number("-1"), "", "x y", map[string]any{}, []any{}, []any{nil}, map[string]any{"extension": []any{}}}
	var mangle func(v any, depth int) any
	mangle = func(v any, depth int) any {
		if rng.IntN(12) == 0 {
			return replacements[rng.IntN(len(replacements))]
		}
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if rng.IntN(25) == 0 {
					delete(x, k)
					x["_"+k] = c
					continue
				}
				x[k] = mangle(c, depth+1)
			}
		case []any:
			for i := range x {
				x[i] = mangle(x[i], depth+1)
			}
		}
		return v
	}
	runs, withErrors := 0, 0
	for round := 0; round < 3; round++ {
		for _, raw := range raws {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			rt := m["resourceType"]
			mangle(m, 0)
			m["resourceType"] = rt
			b, _ := json.Marshal(m)
			r := v.Validate(b)
			runs++
			if r.Errors() > 0 {
				withErrors++
			}
		}
	}
	if withErrors < runs/2 {
		t.Errorf("only %d of %d mangled resources had errors", withErrors, runs)
	}
	t.Logf("%d mangled resources validated, %d with errors", runs, withErrors)
}
