package suites

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerExportType(e *framework.Env) {
	if !e.Applies("PA-ETYPE-01", "PA-ETYPE-02") {
		return // the edition does not have these requirements
	}
	Describe("exportType", func() {
		// PDex 2.0.0: "The exportType parameter SHALL contain:
		// hl7.fhir.us.davinci-pdex to indicate that it is a PDex Provider
		// Access API export" binds the client. ATR makes exportType
		// optional (0..1) and names other values (hl7.fhir.us.davinci-atr);
		// a value the server does not serve falls under Bulk Data's rule
		// for what it cannot support: it "SHOULD return an error and FHIR
		// OperationOutcome resource". A kick-off without exportType is the
		// client's fault, with no rule for the server, and is not tested.
		It("refuses a kick-off whose exportType is not one it serves", e.Req("PA-ETYPE-01"), func(ctx SpecContext) {
			good := small(ctx, e)
			refused(ctx, e, framework.ExportRequest{Params: good},
				framework.ExportRequest{Params: with(good, "exportType", "http://example.org/other-export")}, "a kick-off with exportType http://example.org/other-export")
		})

		// The edition's value is the only one a conformant client sends, so
		// the server must take it.
		It("accepts the edition's exportType hl7.fhir.us.davinci-pdex", e.Req("PA-ETYPE-02"), func(ctx SpecContext) {
			resp, err := e.Attempt(ctx, framework.ExportRequest{Params: small(ctx, e)})
			framework.NoError(err, "Sending a kick-off with exportType hl7.fhir.us.davinci-pdex")
			framework.Checkf(resp.StatusCode == http.StatusAccepted, "The server answered HTTP %d to a kick-off with exportType hl7.fhir.us.davinci-pdex, not 202 Accepted: %s",
				resp.StatusCode, framework.OutcomeText(resp.Body))
		})
	})
}
