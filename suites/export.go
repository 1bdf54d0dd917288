package suites

import (
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

// fullExport runs (once) the full Group export and fails the spec if it did
// not complete; the manifest is attached as evidence.
func fullExport(e *framework.Env) *framework.Export {
	ctx, cancel := e.Ctx()
	defer cancel()
	x, err := e.FullExport(ctx)
	if x != nil && x.Manifest != nil {
		AddReportEntry(evidence.EntryManifest, string(x.Manifest.Raw), ReportEntryVisibilityNever)
	}
	if x != nil && len(x.Files) > 0 {
		// What the full export produced, for the reports' "resources
		// exported per type": lines downloaded per type, as the files hold
		// them.
		sum := evidence.ExportSummary{Resources: map[string]int{}, Files: len(x.Files)}
		for _, f := range x.Files {
			sum.Resources[f.Ref.Type] += f.Lines
			sum.Bytes += f.Bytes
		}
		AddReportEntry(evidence.EntryExport, sum, ReportEntryVisibilityNever)
	}
	Expect(err).NotTo(HaveOccurred(), "the full Group export must complete")
	return x
}

func registerFullExport(e *framework.Env) {
	Describe("Full export", func() {
		It("answers a POST kick-off with 202 and an absolute Content-Location", framework.Req("PA-EXP-01"), func() {
			x := fullExport(e)
			Expect(x.Kickoff.StatusCode).To(Equal(http.StatusAccepted))
			u, err := url.Parse(x.Kickoff.Header.Get("Content-Location"))
			Expect(err).NotTo(HaveOccurred())
			Expect(u.IsAbs()).To(BeTrue(), "Content-Location %q must be an absolute URL", u)
		})

		It("answers status requests with 202 while in progress and 200 with a JSON manifest when complete", framework.Req("PA-EXP-02"), func() {
			x := fullExport(e)
			for _, p := range x.Pending {
				Expect(p.StatusCode).To(Equal(http.StatusAccepted))
			}
			Expect(x.Final.StatusCode).To(Equal(http.StatusOK))
			Expect(x.Final.Header.Get("Content-Type")).To(HavePrefix("application/json"), "the complete status response is JSON")
		})

		It("returns a manifest with every required field, absolute URLs and one type per file", framework.Req("PA-EXP-03"), func() {
			x := fullExport(e)
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

		It("serves every file as application/fhir+ndjson with as many lines as its count", framework.Req("PA-EXP-04"), func() {
			x := fullExport(e)
			for _, f := range x.Files {
				Expect(f.Status).To(Equal(http.StatusOK))
				ct, _, _ := strings.Cut(f.ContentType, ";")
				Expect(strings.TrimSpace(ct)).To(Equal("application/fhir+ndjson"), "Content-Type of %s", f.Ref.URL)
				if f.Ref.Count != nil {
					Expect(f.Lines).To(Equal(*f.Ref.Count), "%s file %s: count says %d", f.Ref.Type, f.Ref.URL, *f.Ref.Count)
				}
			}
		})

		It("exports only valid FHIR R4 resources", framework.Req("PA-EXP-05"), func() {
			x := fullExport(e)
			Expect(x.LineErrors).To(BeEmpty())
			v := e.Validate(x)
			for _, f := range v.Files {
				AddReportEntry(evidence.EntryValidation, f, ReportEntryVisibilityNever)
			}
			Expect(v.Structural).To(BeZero(), "%d structural errors in %d lines; see the validation evidence", v.Structural, v.Lines)
		})

		It("exports only members of the Group", framework.Req("PA-EXP-06"), func() {
			x := fullExport(e)
			ctx, cancel := e.Ctx()
			defer cancel()
			members, err := e.Members(ctx)
			Expect(err).NotTo(HaveOccurred())
			allowed := set(members)
			var issues []validators.Issue
			for _, k := range x.Select(func(framework.Resource) bool { return true }) {
				r := x.Resources[k]
				if is := pdex.MemberIssue(r.Type, r.ID, r.Patient, allowed); is != nil {
					issues = append(issues, *is)
				}
			}
			Expect(issues).To(BeEmpty(), "resources of patients who are not members of Group/%s", e.Config.Group)
		})

		It("sets Expires on the completed status response", framework.Req("PA-EXP-07"), func() {
			x := fullExport(e)
			Expect(x.Final.Header.Get("Expires")).NotTo(BeEmpty())
			_, err := http.ParseTime(x.Final.Header.Get("Expires"))
			Expect(err).NotTo(HaveOccurred(), "Expires must be an HTTP date")
		})
	})
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
