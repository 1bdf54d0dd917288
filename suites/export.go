package suites

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
)

func registerFullExport(e *framework.Env) {
	Describe("Full export", func() {
		It("answers a POST kick-off with 202 and an absolute Content-Location", e.Req("PA-EXP-01"), func(ctx SpecContext) {
			x, err := fullExportAt(ctx, e, atKickoff)
			if x == nil || x.Kickoff == nil {
				Fail(fmt.Sprintf("the kick-off of the full Group export got no answer: %v", err))
			}
			if x.Kickoff.StatusCode != http.StatusAccepted {
				Fail(fmt.Sprintf("the kick-off of the full Group export answered HTTP %d, not 202 Accepted: %s", x.Kickoff.StatusCode, framework.OutcomeText(x.Kickoff.Body)))
			}
			u, err := url.Parse(x.Kickoff.Header.Get("Content-Location"))
			Expect(err).NotTo(HaveOccurred())
			Expect(u.IsAbs()).To(BeTrue(), "Content-Location %q must be an absolute URL", u)
		})

		It("answers status requests with 202 while in progress and 200 with a JSON manifest when complete", e.Req("PA-EXP-02"), func(ctx SpecContext) {
			x, err := fullExportAt(ctx, e, atStatus)
			for _, p := range x.Pending {
				Expect(p.StatusCode).To(Equal(http.StatusAccepted), "a status request while the export was in progress")
			}
			if x.Final == nil {
				Fail(fmt.Sprintf("polling the status URL did not end with the export complete: %v", err))
			}
			if x.Final.StatusCode != http.StatusOK {
				Fail(fmt.Sprintf("the last status request answered HTTP %d, not 200 with the manifest: %s", x.Final.StatusCode, framework.OutcomeText(x.Final.Body)))
			}
			Expect(x.Final.Header.Get("Content-Type")).To(HavePrefix("application/json"), "the complete status response is JSON")
		})

		It("returns a manifest with every required field, absolute URLs and one type per file", e.Req("PA-EXP-03"), func(ctx SpecContext) {
			x, err := fullExportAt(ctx, e, atManifest)
			if x.Manifest == nil {
				Fail(fmt.Sprintf("the complete status response holds no readable manifest: %v", err))
			}
			m := x.Manifest
			var raw map[string]any
			Expect(jsonUnmarshal(m.Raw, &raw)).To(Succeed())
			for _, f := range []string{"transactionTime", "request", "requiresAccessToken", "output", "error"} {
				Expect(raw).To(HaveKey(f), "the manifest lacks %s", f)
			}
			Expect(m.RequiresAccessToken).NotTo(BeNil())
			Expect(*m.RequiresAccessToken).To(BeTrue(), "ATR: producers SHALL set requiresAccessToken to true")
			Expect(m.Output).NotTo(BeEmpty(), "a full export of a Group with members has output")
			for _, o := range append(slices.Clone(m.Output), m.Error...) {
				u, err := url.Parse(o.URL)
				Expect(err).NotTo(HaveOccurred())
				Expect(u.IsAbs()).To(BeTrue(), "file URL %q must be absolute", o.URL)
				Expect(o.Type).NotTo(BeEmpty())
			}
			for k, r := range x.Resources {
				Expect(r.Type).To(Equal(r.FileType), "%s is in a file declared as %s", k, r.FileType)
			}
		})

		It("serves every file as application/fhir+ndjson with as many lines as its count", e.Req("PA-EXP-04"), func(ctx SpecContext) {
			x, _ := fullExportAt(ctx, e, atFiles)
			for _, f := range append(slices.Clone(x.Files), x.ErrFiles...) {
				Expect(f.Err).NotTo(HaveOccurred(), "downloading the %s file %s", f.Ref.Type, f.Ref.URL)
			}
			for _, f := range x.Files {
				Expect(f.Status).To(Equal(http.StatusOK))
				ct, _, _ := strings.Cut(f.ContentType, ";")
				Expect(strings.TrimSpace(ct)).To(Equal("application/fhir+ndjson"), "Content-Type of %s", f.Ref.URL)
				if f.Ref.Count != nil {
					Expect(f.Lines).To(Equal(*f.Ref.Count), "%s file %s: count says %d", f.Ref.Type, f.Ref.URL, *f.Ref.Count)
				}
			}
		})

		It("exports only valid FHIR R4 resources", e.Req("PA-EXP-05"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			Expect(x.LineErrors).To(BeEmpty())
			v := e.Validate(x)
			for _, f := range v.Files {
				AddReportEntry(evidence.EntryValidation, f, ReportEntryVisibilityNever)
			}
			Expect(v.Structural).To(BeZero(), "%d structural errors in %d lines; see the validation evidence", v.Structural, v.Lines)
		})

		It("exports only members of the Group", e.Req("PA-EXP-06"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			allowed := set(members(ctx, e))
			var issues []validators.Issue
			for _, k := range x.Select(func(framework.Resource) bool { return true }) {
				r := x.Resources[k]
				if is := pdex.MemberIssue(r.Type, r.ID, r.Patient, allowed); is != nil {
					issues = append(issues, *is)
				}
			}
			Expect(issues).To(BeEmpty(), "resources of patients who are not members of Group/%s", e.Config.Group)
		})

		It("sets Expires on the completed status response", e.Req("PA-EXP-07"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			Expect(x.Final.Header.Get("Expires")).NotTo(BeEmpty())
			_, err := http.ParseTime(x.Final.Header.Get("Expires"))
			Expect(err).NotTo(HaveOccurred(), "Expires must be an HTTP date")
		})
	})
}
