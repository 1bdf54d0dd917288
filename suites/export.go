package suites

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerFullExport(e *framework.Env) {
	Describe("Full export", func() {
		It("answers a POST kick-off with 202 and an absolute Content-Location", e.Req("PA-EXP-01"), func(ctx SpecContext) {
			x, err := fullExportAt(ctx, e, atKickoff)
			if x == nil || x.Kickoff == nil {
				framework.Failf("the kick-off of the full Group export got no answer: %v", err)
			}
			if x.Kickoff.StatusCode != http.StatusAccepted {
				framework.Failf("the kick-off of the full Group export answered HTTP %d, not 202 Accepted: %s", x.Kickoff.StatusCode, framework.OutcomeText(x.Kickoff.Body))
			}
			loc := x.Kickoff.Header.Get("Content-Location")
			framework.Checkf(isAbsoluteURL(loc), "The kick-off of the full Group export was accepted with Content-Location %q, which is not an absolute URL (Bulk Data: the absolute URL of the status endpoint)", loc)
		})

		It("answers status requests with 202 while in progress and 200 with a JSON manifest when complete", e.Req("PA-EXP-02"), func(ctx SpecContext) {
			x, err := fullExportAt(ctx, e, atStatus)
			for _, p := range x.Pending {
				framework.Checkf(p.StatusCode == http.StatusAccepted, "A status request while the export was in progress was answered HTTP %d, not 202", p.StatusCode)
			}
			if x.Final == nil {
				framework.Failf("polling the status URL did not end with the export complete: %v", err)
			}
			if x.Final.StatusCode != http.StatusOK {
				framework.Failf("the last status request answered HTTP %d, not 200 with the manifest: %s", x.Final.StatusCode, framework.OutcomeText(x.Final.Body))
			}
			ct := x.Final.Header.Get("Content-Type")
			framework.Checkf(strings.HasPrefix(ct, "application/json"), "The complete status response is served as %q, not application/json", ct)
		})

		It("returns a manifest with every required field, absolute URLs and one type per file", e.Req("PA-EXP-03"), func(ctx SpecContext) {
			x, err := fullExportAt(ctx, e, atManifest)
			if x.Manifest == nil {
				framework.Failf("the complete status response holds no readable manifest: %v", err)
			}
			m := x.Manifest
			var raw map[string]any
			framework.Checkf(jsonUnmarshal(m.Raw, &raw) == nil, "The manifest is not a JSON object")
			var lacks []string
			for _, f := range []string{"transactionTime", "request", "requiresAccessToken", "output", "error"} {
				if _, ok := raw[f]; !ok {
					lacks = append(lacks, f)
				}
			}
			framework.Checkf(len(lacks) == 0, "The manifest lacks %s, which Bulk Data requires", strings.Join(lacks, ", "))
			framework.Checkf(m.RequiresAccessToken != nil && *m.RequiresAccessToken, "The manifest does not say requiresAccessToken: true (ATR: producers SHALL set it true)")
			framework.Checkf(len(m.Output) > 0, "The manifest of a full export of a Group with members lists no output file")
			var relative, untyped []string
			for _, o := range append(slices.Clone(m.Output), m.Error...) {
				if !isAbsoluteURL(o.URL) {
					relative = append(relative, o.URL)
				}
				if o.Type == "" {
					untyped = append(untyped, o.URL)
				}
			}
			framework.Checkf(len(relative) == 0, "%d file URLs of the manifest are not absolute, e.g. %s", len(relative), strings.Join(first(relative, 3), ", "))
			framework.Checkf(len(untyped) == 0, "%d files of the manifest have no type, e.g. %s", len(untyped), strings.Join(first(untyped, 3), ", "))
			wrongFile := keysOf(x, func(r framework.Resource) bool { return r.Type != r.FileType })
			if d := framework.Offending(wrongFile); !d.Empty() {
				framework.Failf("the manifest declares one type per file, but files hold resources of another type: %s", d)
			}
		})

		It("serves every file as application/fhir+ndjson with as many lines as its count", e.Req("PA-EXP-04"), func(ctx SpecContext) {
			x, _ := fullExportAt(ctx, e, atFiles)
			for _, f := range append(slices.Clone(x.Files), x.ErrFiles...) {
				framework.NoError(f.Err, fmt.Sprintf("Downloading the %s file %s", f.Ref.Type, f.Ref.URL))
			}
			for _, f := range x.Files {
				framework.Checkf(f.Status == http.StatusOK, "The %s file %s was served with HTTP %d, not 200", f.Ref.Type, f.Ref.URL, f.Status)
				ct, _, _ := strings.Cut(f.ContentType, ";")
				framework.Checkf(strings.TrimSpace(ct) == "application/fhir+ndjson", "Content-Type of %s (got %q; wanted %q)", f.Ref.URL, f.ContentType, "application/fhir+ndjson")
				if f.Ref.Count != nil {
					framework.Checkf(f.Lines == *f.Ref.Count, "The %s file %s holds %d lines, but the manifest's count says %d", f.Ref.Type, f.Ref.URL, f.Lines, *f.Ref.Count)
				}
			}
		})

		It("exports only valid FHIR R4 resources", e.Req("PA-EXP-05"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			if len(x.LineErrors) > 0 {
				framework.Failf("%d lines of the full Group export are not FHIR resources in JSON, e.g. %s", len(x.LineErrors), strings.Join(first(x.LineErrors, 3), "; "))
			}
			v := e.Validate(x)
			for _, f := range v.Files {
				AddReportEntry(evidence.EntryValidation, f, ReportEntryVisibilityNever)
			}
			if v.Structural > 0 {
				framework.Failf("%d structural errors in %d exported lines (%s); see the validation evidence", v.Structural, v.Lines, byType(v.ByType))
			}
		})

		// Bulk Data (export.html, Kick-off Request) takes the Patient
		// compartment as the point of reference of a Group export, and a
		// Group export returns data "pertaining to all members of a
		// specified Group" — of them and no one else (the server "SHALL
		// limit the data returned to only those FHIR resources for which
		// the client is authorized"). A resource is a member's when it is
		// in the member's compartment by the official R4 definition; one
		// in the compartments of a member and of someone else is the
		// member's too.
		It("exports only members of the Group", e.Req("PA-EXP-06"), func(ctx SpecContext) {
			needCompartment(e)
			x := fullExport(ctx, e)
			ms := members(ctx, e)
			if len(keysOf(x, func(r framework.Resource) bool { return len(r.Patients) > 0 })) == 0 {
				Skip("the full Group export holds no resource in any patient's compartment: there is no patient data to judge (the completeness spec reports the missing members)")
			}
			if d := framework.Offending(keysOf(x, outsiders(ms...))); !d.Empty() {
				framework.Failf("the full export of Group/%s holds data of patients who are not members of it: %s", e.Config.Group, d)
			}
		})

		// The other direction of the same requirement: every member's data
		// is there, the Patient at least (Bulk Data: "where applicable,
		// Patient resources SHOULD be returned"; every member has one).
		// PDex 2.0.0 asks to support "Request all information for members in
		// the Group". An opted-out member's data is never exported, so a
		// member missing from the export may have opted out: only the
		// configured opt-outs excuse one. Without any configured, missing
		// members cannot be told from opted-out ones and the spec skips.
		It("exports every member of the Group who has not opted out", e.Req("PA-EXP-06"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			ms := members(ctx, e)
			if len(ms) == 0 {
				Skip(fmt.Sprintf("Group/%s lists no active member: there is nobody to export", e.Config.Group))
			}
			opted := set(e.Config.OptedOut)
			want := map[string]bool{}
			for _, m := range ms {
				if !opted[m] {
					want[framework.Key("Patient", m)] = true
				}
			}
			d := framework.Missing(want, keysOf(x, func(r framework.Resource) bool { return r.Type == "Patient" }))
			switch {
			case d.Empty():
			case len(e.Config.OptedOut) == 0:
				Skip(fmt.Sprintf("the full export of Group/%s lacks the Patient of some members, %s: they may have opted out, which the configuration does not say (set optedOut to every opted-out member)", e.Config.Group, d))
			default:
				framework.Failf("the full export of Group/%s leaves out members who have not opted out, by their Patient: %s", e.Config.Group, d)
			}
		})

		It("sets Expires on the completed status response", e.Req("PA-EXP-07"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			exp := x.Final.Header.Get("Expires")
			framework.Checkf(exp != "", "The completed status response carries no Expires header")
			_, err := http.ParseTime(exp)
			framework.Checkf(err == nil, "The completed status response's Expires %q is not an HTTP date", exp)
		})
	})
}
