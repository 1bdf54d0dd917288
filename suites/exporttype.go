package suites

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// refused sends a kick-off and expects 400 with an OperationOutcome.
func refused(e *framework.Env, ps []bulk.Param, why string) {
	ctx, cancel := e.Ctx()
	defer cancel()
	resp, err := e.Attempt(ctx, framework.ExportRequest{Params: ps})
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), "%s must be refused with 400", why)
	Expect(framework.IsOperationOutcome(resp.Body)).To(BeTrue(), "the 400 must carry an OperationOutcome, got: %s", framework.OutcomeText(resp.Body))
}

func without(ps []bulk.Param, name string) []bulk.Param {
	var out []bulk.Param
	for _, p := range ps {
		if p.Name != name {
			out = append(out, p)
		}
	}
	return out
}

func with(ps []bulk.Param, name, value string) []bulk.Param {
	out := without(ps, name)
	for _, p := range ps {
		if p.Name == name {
			p.Value = value
			out = append(out, p)
		}
	}
	return out
}

func registerExportType(e *framework.Env) {
	Describe("exportType", func() {
		DescribeTable("refuses a kick-off whose exportType is not the edition's",
			func(ps func() []bulk.Param, why string) { refused(e, ps(), why) },
			Entry("without exportType", framework.Req("PA-ETYPE-01"),
				func() []bulk.Param { return without(e.DefaultParams("snapshot"), "exportType") }, "a kick-off without exportType"),
			Entry("with another exportType", framework.Req("PA-ETYPE-01"),
				func() []bulk.Param {
					return with(e.DefaultParams("snapshot"), "exportType", "http://example.org/other-export")
				}, "exportType http://example.org/other-export"),
		)

		It("accepts the edition's exportType hl7.fhir.us.davinci-pdex", framework.Req("PA-ETYPE-02"), func() {
			ctx, cancel := e.Ctx()
			defer cancel()
			resp, err := e.Attempt(ctx, framework.ExportRequest{Params: params(e, "snapshot", framework.PatientParams(subset(e)[0]))})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusAccepted), "kick-off with exportType hl7.fhir.us.davinci-pdex: %s", framework.OutcomeText(resp.Body))
		})
	})
}
