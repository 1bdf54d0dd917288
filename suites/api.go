package suites

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// lastPriority schedules the whole-run spec after every other spec. Ginkgo
// shuffles top-level containers, so position in the file means nothing;
// SpecPriority is its documented way to order them (higher first, default
// 0), applied after the shuffle, and it holds with --randomize-all too.
// The runner runs specs serially, so "after" means after they finished.
const lastPriority = SpecPriority(-1 << 20)

// registerAPI declares the OpenAPI description specs (PA-API-01). Two specs
// share the requirement, so that it is judged whatever the order or the
// label filter:
//
//   - one runs a representative exchange of every described operation itself
//     and asserts that none mismatches: it needs no other spec;
//   - one, scheduled last, asserts that no exchange of any spec of the run
//     mismatched: Env accumulates every exchange's mismatches run-wide.
//
// A ReportAfterSuite or AfterSuite could see every exchange too, but its
// failure belongs to no spec and so to no requirement.
func registerAPI(e *framework.Env) {
	Describe("API description", func() {
		It("answers a representative exchange of every operation as the OpenAPI description says", e.Req("PA-API-01"), func(ctx SpecContext) {
			if e.Check == nil {
				Skip("no OpenAPI checker in this run")
			}
			seen := representativeExchanges(ctx, e)
			framework.Checkf(seen.checked >= 5, "Only %d of the representative exchanges got an answer to check against the OpenAPI description; at least 5 must", seen.checked)
			framework.Checkf(len(seen.mismatches) == 0, "%s of %d representative exchanges do not conform to the OpenAPI description: %s",
				pluralize(len(seen.mismatches), "answer"), seen.checked, strings.Join(first(seen.mismatches, 3), "; "))
		})
	})

	Describe("API description", lastPriority, func() {
		It("answered every exchange of the run as the OpenAPI description says", e.Req("PA-API-01"), func(ctx SpecContext) {
			if e.Check == nil {
				Skip("no OpenAPI checker in this run")
			}
			list, dropped, exchanges := e.APIMismatches()
			AddReportEntry("note", fmt.Sprintf("%d exchanges recorded in the run before this spec; %d distinct mismatches", exchanges, len(list)+dropped), ReportEntryVisibilityFailureOrVerbose)
			var lines []string
			for _, m := range list {
				lines = append(lines, fmt.Sprintf("%s (%d×)", m.Message, m.Count))
			}
			if dropped > 0 {
				lines = append(lines, fmt.Sprintf("and %d more", dropped))
			}
			framework.Checkf(len(lines) == 0, "%s of this run's %d exchanges do not conform to the OpenAPI description: %s",
				pluralize(len(list)+dropped, "kind of answer"), exchanges, strings.Join(first(lines, 3), "; "))
		})
	})
}

// representative exercises every operation of the OpenAPI description once,
// keeping its own record of the exchanges' mismatches. What the server
// answers is not judged here beyond the description: the other areas judge
// behaviour.
type representative struct {
	ctx        context.Context
	e          *framework.Env
	c, anon    *bulk.Client // the run's client and one that sends no token
	checked    int          // exchanges that got an answer to check
	mismatches []string
}

// representativeExchanges runs the representative exchanges, step by step.
func representativeExchanges(ctx context.Context, e *framework.Env) *representative {
	r := &representative{ctx: ctx, e: e}
	r.c, r.anon = r.watch(e.Client()), r.watch(e.AnonymousClient())
	By("discovery")
	tokenURL := r.discovery()
	if tokenURL != "" {
		By("token endpoint")
		r.tokenRequests(tokenURL)
	}
	By("Group read, search and resource read")
	members := r.groupExchanges()
	By("a refused kick-off")
	r.refusedKickoff()
	if len(members) == 0 {
		AddReportEntry("note", "the Group has no members: no export exchanged")
		return r
	}
	r.get(r.c, "Patient/"+url.PathEscape(members[0]), "")
	By("a small export: kick-off, status, manifest, file, cancel")
	r.smallExport(members[0])
	return r
}

// watch makes a client count and record the mismatches of its exchanges
// besides recording them as the spec's evidence.
func (r *representative) watch(c *bulk.Client) *bulk.Client {
	record := c.Record
	c.Record = func(ex evidence.Exchange) {
		if ex.Error == "" && ex.Status != 0 {
			r.checked++
		}
		for _, m := range ex.Conformance {
			r.mismatches = append(r.mismatches, ex.Method+" "+ex.URL+": "+m)
		}
		record(ex)
	}
	return c
}

// get reads a path (or absolute URL) whole, so that its body is checked.
func (r *representative) get(c *bulk.Client, path, accept string) *bulk.Response {
	req := framework.Get(path)
	if accept != "" {
		req.Header = http.Header{"Accept": {accept}}
	}
	resp, err := c.Do(r.ctx, req)
	framework.NoError(err, "GET "+path)
	return resp
}

// discovery reads the CapabilityStatement and the SMART configuration, and
// returns the token endpoint (configured, or discovered).
func (r *representative) discovery() string {
	r.get(r.anon, "metadata", "")
	tokenURL := r.e.Config.Auth.TokenURL
	if sc := r.get(r.anon, ".well-known/smart-configuration", "application/json"); sc.StatusCode == http.StatusOK {
		var conf struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		if jsonUnmarshal(sc.Body, &conf) == nil && tokenURL == "" {
			tokenURL = conf.TokenEndpoint
		}
	}
	return tokenURL
}

// tokenRequests sends a refused token request (no valid grant is needed to
// see the error's shape) and, with SMART credentials, a good one.
func (r *representative) tokenRequests(tokenURL string) {
	token := func(form url.Values) {
		_, err := r.anon.Do(r.ctx, bulk.Request{Method: http.MethodPost, URL: tokenURL, NoAuth: true,
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
			Body:   []byte(form.Encode())})
		framework.NoError(err, "A token request to "+tokenURL)
	}
	token(url.Values{"grant_type": {"password"}, "scope": {r.e.Config.Auth.Scope}})
	if r.e.Config.Auth.Mode != "smart" {
		return
	}
	creds, err := r.e.Config.Auth.Credentials(tokenURL)
	if err != nil {
		return // the pre-flight reports unusable credentials
	}
	a, err := creds.Assertion(smart.AssertionOptions{})
	framework.NoError(err, "Signing a client assertion")
	token(smart.Form(a, creds.Scope))
}

// groupExchanges reads the Group, searches it by identifier, reads it
// without a token (401), and returns the members to export.
func (r *representative) groupExchanges() []string {
	e := r.e
	var members []string
	if g := r.get(r.c, "Group/"+url.PathEscape(e.Config.Group), ""); g.StatusCode == http.StatusOK {
		if parsed, err := framework.ParseGroup(g.Body); err == nil {
			members = parsed.Members
			if q := groupIdentifier(parsed.Parsed); q != "" {
				r.get(r.c, "Group?identifier="+url.QueryEscape(q), "")
			}
		}
	}
	if len(e.Config.Members) > 0 {
		members = e.Config.Members
	}
	if e.Config.Auth.Mode != "none" {
		r.get(r.anon, "Group/"+url.PathEscape(e.Config.Group), "") // 401
	}
	return members
}

// refusedKickoff asks to export a Group that does not exist.
func (r *representative) refusedKickoff() {
	refused, err := r.c.StartExport(r.ctx, bulk.Kickoff{Group: "pdex-conform-no-such-group", Params: r.e.DefaultParams(edition.Snapshot)})
	framework.NoError(err, "A kick-off on an unknown Group")
	if loc := refused.Header.Get("Content-Location"); refused.StatusCode == http.StatusAccepted && loc != "" {
		r.c.Delete(r.ctx, loc) // accepted after all: no stray job
	}
}

// smallExport runs one small export through every step of the flow, reading
// one file whole (the export scenarios stream their files, so Check never
// sees a file's body there), then cancels it and reads the gone status URL.
func (r *representative) smallExport(member string) {
	kick, err := r.c.StartExport(r.ctx, bulk.Kickoff{Group: r.e.Config.Group, Params: params(r.e, edition.Snapshot,
		framework.PatientParams(member), param("_type", "valueString", "Patient"))})
	framework.NoError(err, "The kick-off of a small export")
	loc := kick.Header.Get("Content-Location")
	if kick.StatusCode != http.StatusAccepted || loc == "" {
		return
	}
	final, _, err := r.c.Poll(r.ctx, loc, r.e.PollOptions())
	framework.NoError(err, "Polling "+loc)
	if final.StatusCode == http.StatusOK {
		if m, err := bulk.ParseManifest(final.Body); err == nil && len(m.Output) > 0 {
			fc := r.c
			if m.RequiresAccessToken != nil && !*m.RequiresAccessToken {
				fc = r.anon
			}
			if u, err := url.Parse(loc); err == nil {
				if fu, err := u.Parse(m.Output[0].URL); err == nil {
					r.get(fc, fu.String(), "application/fhir+ndjson")
				}
			}
		}
	}
	_, err = r.c.Delete(r.ctx, loc)
	framework.NoError(err, "DELETE "+loc)
	r.get(r.c, loc, "application/json") // 404 once cancelled
}

// groupIdentifier is the Group's first identifier as a token search value.
func groupIdentifier(g map[string]any) string {
	ids, _ := g["identifier"].([]any)
	for _, x := range ids {
		id, _ := x.(map[string]any)
		sys, _ := id["system"].(string)
		val, _ := id["value"].(string)
		if val != "" {
			if sys != "" {
				return sys + "|" + val
			}
			return val
		}
	}
	return ""
}

// pluralize says "1 answer" or "3 answers".
func pluralize(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
