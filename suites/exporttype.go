package suites

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerExportType(e *framework.Env) {
	if !e.Applies("PA-ETYPE-01", "PA-ETYPE-02") {
		return // the edition does not have these requirements
	}
	Describe("exportType", func() {
		DescribeTable("refuses a kick-off whose exportType is not the edition's",
			func(ctx SpecContext, ps func() []bulk.Param, why string) { refused(ctx, e, ps(), why) },
			Entry("without exportType", e.Req("PA-ETYPE-01"),
				func() []bulk.Param { return without(e.DefaultParams(edition.Snapshot), "exportType") }, "a kick-off without exportType"),
			Entry("with another exportType", e.Req("PA-ETYPE-01"),
				func() []bulk.Param {
					return with(e.DefaultParams(edition.Snapshot), "exportType", "http://example.org/other-export")
				}, "exportType http://example.org/other-export"),
		)

		It("accepts the edition's exportType hl7.fhir.us.davinci-pdex", e.Req("PA-ETYPE-02"), func(ctx SpecContext) {
			resp, err := e.Attempt(ctx, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(subset(ctx, e)[0]))})
			framework.NoError(err, "Sending a kick-off with exportType hl7.fhir.us.davinci-pdex")
			framework.Checkf(resp.StatusCode == http.StatusAccepted, "The server answered HTTP %d to a kick-off with exportType hl7.fhir.us.davinci-pdex, not 202 Accepted: %s",
				resp.StatusCode, framework.OutcomeText(resp.Body))
		})
	})
}
