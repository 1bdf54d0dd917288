package suites

import (
	"context"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerMechanics(e *framework.Env) {
	Describe("Bulk mechanics", func() {
		// A small request, so that these checks cost little.
		small := func(ctx context.Context, extra ...[]bulk.Param) []bulk.Param {
			return params(e, edition.Snapshot, append([][]bulk.Param{framework.PatientParams(subset(ctx, e)[0]), param("_type", "valueString", "Patient")}, extra...)...)
		}

		DescribeTable("accepts every NDJSON _outputFormat spelling",
			func(ctx SpecContext, format string) {
				resp, err := e.Attempt(ctx, framework.ExportRequest{Params: small(ctx, param("_outputFormat", "valueString", format))})
				Expect(err).NotTo(HaveOccurred())
				accepted(ctx, e, resp, "a kick-off with _outputFormat="+format)
			},
			Entry("application/fhir+ndjson", e.Req("PA-BULK-01"), "application/fhir+ndjson"),
			Entry("application/ndjson", e.Req("PA-BULK-01"), "application/ndjson"),
			Entry("ndjson", e.Req("PA-BULK-01"), "ndjson"),
		)

		It("accepts a GET kick-off with the parameters in the query", e.Req("PA-BULK-07"), func(ctx SpecContext) {
			resp, err := e.Attempt(ctx, framework.ExportRequest{Method: http.MethodGet, Params: small(ctx)})
			Expect(err).NotTo(HaveOccurred())
			accepted(ctx, e, resp, "a GET kick-off")
		})

		It("refuses a kick-off without Prefer: respond-async", e.Req("PA-BULK-02"), func(ctx SpecContext) {
			resp, err := e.Attempt(ctx, framework.ExportRequest{Params: small(ctx), Prefer: "-"})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(BeNumerically(">=", 400), "a kick-off without Prefer: respond-async was answered %d", resp.StatusCode)
			Expect(resp.StatusCode).To(BeNumerically("<", 500))
		})

		It("refuses an unsupported parameter with an OperationOutcome, and accepts it leniently", e.Req("PA-BULK-03"), func(ctx SpecContext) {
			unsupported := param("_elements", "valueString", "id")
			resp, err := e.Attempt(ctx, framework.ExportRequest{Params: small(ctx, unsupported)})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), "strict handling of an unsupported parameter")
			Expect(framework.IsOperationOutcome(resp.Body)).To(BeTrue())
			resp, err = e.Attempt(ctx, framework.ExportRequest{Params: small(ctx, unsupported), Prefer: "respond-async, handling=lenient"})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Or(Equal(http.StatusAccepted), Equal(http.StatusBadRequest)), "lenient handling may ignore or refuse it")
		})

		It("cancels an export on DELETE, after which the status URL answers 404", e.Req("PA-BULK-04"), func(ctx SpecContext) {
			c := e.Client()
			resp, err := c.StartExport(ctx, bulk.Kickoff{Group: e.Config.Group, Params: e.DefaultParams(edition.Snapshot)})
			Expect(err).NotTo(HaveOccurred())
			accepted(ctx, e, resp, "the kick-off of the export to cancel")
			loc := resp.Header.Get("Content-Location")
			Expect(loc).NotTo(BeEmpty())
			del, err := c.Delete(ctx, loc)
			Expect(err).NotTo(HaveOccurred())
			Expect(del.StatusCode).To(Equal(http.StatusAccepted), "DELETE on the status URL")
			st, err := c.Do(ctx, framework.Get(loc))
			Expect(err).NotTo(HaveOccurred())
			Expect(st.StatusCode).To(Equal(http.StatusNotFound), "the status URL after DELETE")
			Expect(framework.IsOperationOutcome(st.Body)).To(BeTrue(), "the 404 carries an OperationOutcome")
		})

		It("gives Retry-After on in-progress status responses", e.Req("PA-BULK-05"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			if len(x.Pending) == 0 {
				Skip("the export completed before the first status request: no in-progress response to check")
			}
			for _, p := range x.Pending {
				Expect(p.Header.Get("Retry-After")).NotTo(BeEmpty(), "a 202 status response without Retry-After")
			}
		})

		It("answers a kick-off on an unknown Group with 404 and an OperationOutcome", e.Req("PA-BULK-06"), func(ctx SpecContext) {
			resp, err := e.Attempt(ctx, framework.ExportRequest{Group: "pdex-conform-no-such-group", Params: e.DefaultParams(edition.Snapshot)})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(BeNumerically(">=", 400))
			Expect(resp.StatusCode).To(BeNumerically("<", 500))
			Expect(framework.IsOperationOutcome(resp.Body)).To(BeTrue(), "the error carries an OperationOutcome, got: %s", framework.OutcomeText(resp.Body))
		})
	})
}
