package suites

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/keys"
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

// representative collects what the representative exchanges showed.
type representative struct {
	checked    int
	mismatches []string
}

// representativeExchanges exercises every described operation once, keeping
// its own record of the exchanges' mismatches. What the server answers is
// not judged here beyond the description: the other areas judge behaviour.
func representativeExchanges(ctx context.Context, e *framework.Env) *representative {
	seen := &representative{}
	watch := func(c *bulk.Client) *bulk.Client {
		record := c.Record
		c.Record = func(ex evidence.Exchange) {
			if ex.Error == "" && ex.Status != 0 {
				seen.checked++
			}
			for _, m := range ex.Conformance {
				seen.mismatches = append(seen.mismatches, ex.Method+" "+ex.URL+": "+m)
			}
			record(ex)
		}
		return c
	}
	c, anon := watch(e.Client()), watch(e.AnonymousClient())
	get := func(c *bulk.Client, path string, accept string) *bulk.Response {
		r := framework.Get(path)
		if accept != "" {
			r.Header = http.Header{"Accept": {accept}}
		}
		resp, err := c.Do(ctx, r)
		framework.NoError(err, "GET "+path)
		return resp
	}

	By("discovery")
	get(anon, "metadata", "")
	tokenURL := e.Config.Auth.TokenURL
	if sc := get(anon, ".well-known/smart-configuration", "application/json"); sc.StatusCode == http.StatusOK {
		var conf struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		if jsonUnmarshal(sc.Body, &conf) == nil && tokenURL == "" {
			tokenURL = conf.TokenEndpoint
		}
	}

	if tokenURL != "" {
		By("token endpoint")
		token := func(form url.Values) {
			_, err := anon.Do(ctx, bulk.Request{Method: http.MethodPost, URL: tokenURL, NoAuth: true,
				Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
				Body:   []byte(form.Encode())})
			framework.NoError(err, "A token request to "+tokenURL)
		}
		// A refusal: no valid grant needed to see the error's shape.
		token(url.Values{"grant_type": {"password"}, "scope": {e.Config.Auth.Scope}})
		if form, ok := tokenForm(e, tokenURL); ok {
			token(form)
		}
	}

	By("Group read, search and resource read")
	var members []string
	if g := get(c, "Group/"+url.PathEscape(e.Config.Group), ""); g.StatusCode == http.StatusOK {
		if parsed, err := framework.ParseGroup(g.Body); err == nil {
			members = parsed.Members
			if q := groupIdentifier(parsed.Parsed); q != "" {
				get(c, "Group?identifier="+url.QueryEscape(q), "")
			}
		}
	}
	if len(e.Config.Members) > 0 {
		members = e.Config.Members
	}
	if e.Config.Auth.Mode != "none" {
		get(anon, "Group/"+url.PathEscape(e.Config.Group), "") // 401
	}

	By("a refused kick-off")
	refused, err := c.StartExport(ctx, bulk.Kickoff{Group: "pdex-conform-no-such-group", Params: e.DefaultParams(edition.Snapshot)})
	framework.NoError(err, "A kick-off on an unknown Group")
	if loc := refused.Header.Get("Content-Location"); refused.StatusCode == http.StatusAccepted && loc != "" {
		c.Delete(ctx, loc) // accepted after all: no stray job
	}

	if len(members) == 0 {
		AddReportEntry("note", "the Group has no members: no export exchanged")
		return seen
	}
	get(c, "Patient/"+url.PathEscape(members[0]), "")

	By("a small export: kick-off, status, manifest, file, cancel")
	kick, err := c.StartExport(ctx, bulk.Kickoff{Group: e.Config.Group, Params: params(e, edition.Snapshot,
		framework.PatientParams(members[0]), param("_type", "valueString", "Patient"))})
	framework.NoError(err, "The kick-off of a small export")
	loc := kick.Header.Get("Content-Location")
	if kick.StatusCode != http.StatusAccepted || loc == "" {
		return seen
	}
	final, _, err := c.Poll(ctx, loc, bulk.PollOptions{Deadline: time.Now().Add(e.Config.Timeouts.Export.Duration)})
	framework.NoError(err, "Polling "+loc)
	if final.StatusCode == http.StatusOK {
		if m, err := bulk.ParseManifest(final.Body); err == nil && len(m.Output) > 0 {
			// One small file read whole, so that Check sees its body (the
			// export scenarios stream files, unchecked).
			ref := m.Output[0]
			fc := c
			if m.RequiresAccessToken != nil && !*m.RequiresAccessToken {
				fc = anon
			}
			if u, err := url.Parse(loc); err == nil {
				if fu, err := u.Parse(ref.URL); err == nil {
					get(fc, fu.String(), "application/fhir+ndjson")
				}
			}
		}
	}
	_, err = c.Delete(ctx, loc)
	framework.NoError(err, "DELETE "+loc)
	get(c, loc, "application/json") // 404 once cancelled
	return seen
}

// tokenForm builds a good token request for the run's SMART client, when
// the run has one.
func tokenForm(e *framework.Env, tokenURL string) (url.Values, bool) {
	if e.Config.Auth.Mode != "smart" {
		return nil, false
	}
	raw, err := e.Config.Auth.Key()
	if err != nil {
		return nil, false
	}
	key, err := keys.ParsePrivate(raw)
	if err != nil {
		return nil, false
	}
	creds := smart.Credentials{ClientID: e.Config.Auth.ClientID, KeyID: e.Config.Auth.KeyID, Alg: e.Config.Auth.Alg,
		Key: key, TokenURL: tokenURL, Scope: e.Config.Auth.Scope}
	a, err := creds.Assertion(smart.AssertionOptions{})
	framework.NoError(err, "Signing a client assertion")
	return smart.Form(a, creds.Scope), true
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
