package suites

import (
	"encoding/json"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerTypes(e *framework.Env) {
	Describe("Type-limited export", func() {
		It("exports only the types named in _type, and all of them", e.Req("PA-TYPE-01"), func(ctx SpecContext) {
			members := subset(ctx, e)
			want := []string{"Condition", "Observation"}
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
				framework.PatientParams(members...), param("_type", "valueString", "Condition,Observation"))})
			for _, t := range x.Types() {
				Expect(want).To(ContainElement(t), "_type asked for Condition and Observation only")
			}
			full := fullExport(ctx, e)
			in := set(members)
			expected := full.Select(func(r framework.Resource) bool { return in[r.Patient] && slices.Contains(want, r.Type) })
			got := x.Select(func(framework.Resource) bool { return true })
			Expect(got).To(ContainElements(expected), "every Condition and Observation of those members in the full export")
		})

		It("exports only the resources that match _typeFilter, and all of them", e.Req("PA-TYPE-02"), func(ctx SpecContext) {
			members := subset(ctx, e)
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
				framework.PatientParams(members...),
				param("_type", "valueString", "Observation"),
				param("_typeFilter", "valueString", "Observation?category=laboratory"))})
			var got []string
			Expect(x.EachResource("", func(raw []byte) error {
				var o observation
				json.Unmarshal(raw, &o)
				Expect(o.ResourceType).To(Equal("Observation"))
				Expect(o.isLab()).To(BeTrue(), "Observation/%s does not have category laboratory", o.ID)
				got = append(got, o.ID)
				return nil
			})).To(Succeed())
			full := fullExport(ctx, e)
			in := set(members)
			var expected []string
			Expect(full.EachResource("Observation", func(raw []byte) error {
				var o observation
				json.Unmarshal(raw, &o)
				if o.isLab() && in[patientOf("Observation", raw)] {
					expected = append(expected, o.ID)
				}
				return nil
			})).To(Succeed())
			Expect(expected).NotTo(BeEmpty(), "the members chosen have no laboratory Observation to filter for")
			Expect(got).To(ConsistOf(expected))
		})
	})
}

type observation struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Category     []struct {
		Coding []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"coding"`
	} `json:"category"`
}

func (o observation) isLab() bool {
	for _, c := range o.Category {
		for _, cd := range c.Coding {
			if cd.Code == "laboratory" {
				return true
			}
		}
	}
	return false
}
