package suites

import (
	"fmt"
	"net/http"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// unknownParameter is a parameter no server can support: Bulk Data and ATR
// define no such name. (An optional parameter such as _elements would hold
// a server that supports it against it.)
const unknownParameter = "_pdexConformNoSuchParameter"

func registerMechanics(e *framework.Env) {
	Describe("Bulk mechanics", func() {
		// Bulk Data, _outputFormat: "The server SHALL accept the full
		// content type of application/fhir+ndjson as well as the
		// abbreviated representations application/ndjson and ndjson."
		DescribeTable("accepts every NDJSON _outputFormat spelling",
			func(ctx SpecContext, format string) {
				resp, err := e.Attempt(ctx, framework.ExportRequest{Params: small(ctx, e, param("_outputFormat", "valueString", format))})
				framework.NoError(err, fmt.Sprintf("Sending the kick-off with _outputFormat=%s", format))
				accepted(ctx, e, resp, "a kick-off with _outputFormat="+format)
			},
			Entry("application/fhir+ndjson", e.Req("PA-BULK-01"), "application/fhir+ndjson"),
			Entry("application/ndjson", e.Req("PA-BULK-01"), "application/ndjson"),
			Entry("ndjson", e.Req("PA-BULK-01"), "ndjson"),
		)

		// Bulk Data, Kick-off Request: "A server SHALL support GET requests
		// and MAY support POST requests". The patient parameter is for
		// "POST requests only", so the GET kick-off asks for the whole
		// Group's Patients: a server that refuses patient in a query is not
		// held to it.
		It("accepts a GET kick-off with the parameters in the query", e.Req("PA-BULK-07"), func(ctx SpecContext) {
			resp, err := e.Attempt(ctx, framework.ExportRequest{Method: http.MethodGet, Params: params(e, edition.Snapshot, param("_type", "valueString", "Patient"))})
			framework.NoError(err, "Sending the GET kick-off")
			accepted(ctx, e, resp, "a GET kick-off")
		})

		// Bulk Data, Headers: Prefer "A client SHOULD provide this header.
		// If omitted, the server MAY return an error or MAY process the
		// request as if respond-async was supplied" (PDex 2.1.0's "SHALL"
		// binds the client too): refusing is a MAY. A refusal must be for
		// the missing header: the same kick-off with it is accepted, and a
		// 404 (no such operation) is no refusal of a header.
		It("refuses a kick-off without Prefer: respond-async", e.Req("PA-BULK-02"), func(ctx SpecContext) {
			good := small(ctx, e)
			refused(ctx, e, framework.ExportRequest{Params: good}, framework.ExportRequest{Params: good, Prefer: "-"}, "a kick-off without Prefer: respond-async")
		})

		// Bulk Data, Query Parameters: a server "unable to support" a
		// parameter "SHOULD return an error and FHIR OperationOutcome
		// resource ... When a Prefer: handling=lenient header is included in
		// the request, the server MAY process the request instead of
		// returning an error."
		It("refuses an unsupported parameter with an OperationOutcome, and accepts it leniently", e.Req("PA-BULK-03"), func(ctx SpecContext) {
			good := small(ctx, e)
			unknown := small(ctx, e, param(unknownParameter, "valueString", "x"))
			refused(ctx, e, framework.ExportRequest{Params: good}, framework.ExportRequest{Params: unknown}, "a kick-off with the unsupported parameter "+unknownParameter)
			resp, err := e.Attempt(ctx, framework.ExportRequest{Params: unknown, Prefer: "respond-async, handling=lenient"})
			framework.NoError(err, "Sending the lenient kick-off")
			if resp.StatusCode != http.StatusAccepted && !isRefusal(resp) {
				framework.Failf("with Prefer: handling=lenient the server may ignore the unsupported parameter (202) or refuse it with an OperationOutcome, but it answered HTTP %d: %s",
					resp.StatusCode, framework.OutcomeText(resp.Body))
			}
		})

		// Bulk Data, Delete Request: "a client MAY send a DELETE request";
		// the success response is 202, an error response 4XX or 5XX whose
		// "body SHALL be a FHIR OperationOutcome"; and "Following the delete
		// request, when subsequent requests are made to the polling
		// location, the server SHALL return a 404 Not Found error and an
		// associated FHIR OperationOutcome". A server that answers the
		// DELETE with an error is not failed for not cancelling: the 404
		// that follows a cancellation then cannot be tested, and the spec
		// skips.
		It("cancels an export on DELETE, after which the status URL answers 404", e.Req("PA-BULK-04"), func(ctx SpecContext) {
			c := e.Client()
			resp, err := c.StartExport(ctx, bulk.Kickoff{Group: e.Config.Group, Params: e.DefaultParams(edition.Snapshot)})
			framework.NoError(err, "Sending the kick-off of the export to cancel")
			accepted(ctx, e, resp, "the kick-off of the export to cancel")
			loc := resp.Header.Get("Content-Location")
			if loc == "" {
				framework.Failf("the kick-off was accepted without a Content-Location: there is no status URL to cancel")
			}
			del, err := c.Delete(ctx, loc)
			framework.NoError(err, fmt.Sprintf("Sending DELETE %s", loc))
			switch {
			case del.StatusCode == http.StatusAccepted:
			case del.StatusCode >= 400 && framework.IsOperationOutcome(del.Body):
				Skip(fmt.Sprintf("the server does not cancel exports: DELETE %s was answered HTTP %d with an OperationOutcome (%s), a Bulk Data error response", loc, del.StatusCode, framework.OutcomeText(del.Body)))
			default:
				framework.Failf("DELETE %s was answered HTTP %d (%s): Bulk Data answers 202, or an error status with an OperationOutcome", loc, del.StatusCode, framework.OutcomeText(del.Body))
			}
			st, err := c.Do(ctx, framework.Get(loc))
			framework.NoError(err, fmt.Sprintf("Sending GET %s after DELETE", loc))
			if st.StatusCode != http.StatusNotFound || !framework.IsOperationOutcome(st.Body) {
				framework.Failf("after an accepted DELETE the status URL %s must answer 404 with an OperationOutcome; it answered HTTP %d: %s", loc, st.StatusCode, framework.OutcomeText(st.Body))
			}
		})

		It("gives Retry-After on in-progress status responses", e.Req("PA-BULK-05"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			if len(x.Pending) == 0 {
				Skip("the export completed before the first status request: no in-progress response to check")
			}
			without := 0
			for _, p := range x.Pending {
				if p.Header.Get("Retry-After") == "" {
					without++
				}
			}
			if without > 0 {
				framework.Failf("%d of %d in-progress (202) status responses carry no Retry-After", without, len(x.Pending))
			}
		})

		// Bulk Data, kick-off "Response - Error": "HTTP Status Code of 4XX
		// or 5XX; The body SHALL be a FHIR OperationOutcome resource"; a
		// Group the server does not know cannot be exported (404 per the
		// PDex CapabilityStatement from 2.1.0; any 4xx here).
		It("answers a kick-off on an unknown Group with 4xx and an OperationOutcome", e.Req("PA-BULK-06"), func(ctx SpecContext) {
			resp, err := e.Attempt(ctx, framework.ExportRequest{Group: "pdex-conform-no-such-group", Params: e.DefaultParams(edition.Snapshot)})
			framework.NoError(err, "Sending the kick-off")
			if resp.StatusCode < 400 || resp.StatusCode >= 500 || !framework.IsOperationOutcome(resp.Body) {
				framework.Failf("a kick-off on Group/pdex-conform-no-such-group was answered HTTP %d (%s): an export of a Group the server does not know must be refused with a 4xx and an OperationOutcome",
					resp.StatusCode, framework.OutcomeText(resp.Body))
			}
		})
	})
}
