package r4

import (
	"testing"

	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/reference"
)

// BenchmarkCheck parses exported resources of each type with
// google/fhir/go on one goroutine: the structural half of validation, and
// the part pdex-conform cannot make faster itself.
//
//	go test ./validators/r4 -run '^$' -bench Check
func BenchmarkCheck(b *testing.B) {
	d, err := fixtures.Default()
	if err != nil {
		b.Fatal(err)
	}
	byType := map[string][][]byte{}
	for _, r := range d.Resources {
		raw, err := reference.ExportForm(r.Type, r.JSON)
		if err != nil {
			b.Fatal(err)
		}
		byType[r.Type] = append(byType[r.Type], raw)
	}
	p, err := New()
	if err != nil {
		b.Fatal(err)
	}
	for _, typ := range []string{"ExplanationOfBenefit", "Patient", "Coverage", "Observation", "Condition", "Encounter", "DiagnosticReport", "Practitioner"} {
		rs := byType[typ]
		if len(rs) == 0 {
			b.Fatalf("no %s in the data set", typ)
		}
		size := 0
		for _, r := range rs {
			size += len(r)
		}
		b.Run(typ, func(b *testing.B) {
			b.SetBytes(int64(size / len(rs)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if is := p.Check(rs[i%len(rs)]); len(is) > 0 && i < len(rs) {
					b.Fatalf("%s: %v", typ, is[0])
				}
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}
