package runner_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/verdict"
)

// hostile is a FHIR server that misbehaves in one way. Its zero value is a
// plain FHIR server that knows the Group and nothing of the export
// operation; each field, when set, replaces one endpoint.
type hostile struct {
	// everything, when set, answers every request.
	everything http.HandlerFunc
	kickoff    http.HandlerFunc // Group/g1/$davinci-data-export
	status     http.HandlerFunc // /status/1
	file       http.HandlerFunc // /files/Patient.ndjson
}

const (
	capability = `{"resourceType":"CapabilityStatement","status":"active","date":"2026-01-01","kind":"instance",` +
		`"fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","resource":[{"type":"Group",` +
		`"interaction":[{"code":"read"}]}]}]}`
	group = `{"resourceType":"Group","id":"g1","type":"person","actual":true,` +
		`"member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"Patient/p2"}}]}`
	badGateway = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
)

func fhirJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func outcome(status int, code, text string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fhirJSON(w, status, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"`+code+`","diagnostics":"`+text+`"}]}`)
	}
}

func (h hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.everything != nil {
		h.everything(w, r)
		return
	}
	var next http.HandlerFunc
	switch p := r.URL.Path; {
	case p == "/metadata":
		next = func(w http.ResponseWriter, r *http.Request) { fhirJSON(w, 200, capability) }
	case p == "/Group/g1" && r.Method == http.MethodGet:
		next = func(w http.ResponseWriter, r *http.Request) { fhirJSON(w, 200, group) }
	case strings.HasSuffix(p, "/$davinci-data-export"):
		next = h.kickoff
	case strings.HasPrefix(p, "/status/"):
		next = h.status
	case strings.HasPrefix(p, "/files/"):
		next = h.file
	}
	if next == nil {
		next = outcome(http.StatusNotFound, "not-found", "Unknown resource or operation: "+r.Method+" "+r.URL.Path)
	}
	next(w, r)
}

// accepted answers a kick-off with 202 and a status URL; DELETE on the
// status URL too.
func accepted(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Location", "http://"+r.Host+"/status/1")
	w.WriteHeader(http.StatusAccepted)
}

// complete answers the status URL with a manifest of one Patient file.
func complete(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	fmt.Fprintf(w, `{"transactionTime":"2026-03-01T12:00:00Z","request":"http://%s/Group/g1/$davinci-data-export",`+
		`"requiresAccessToken":true,"output":[{"type":"Patient","url":"http://%s/files/Patient.ndjson","count":2}],"error":[]}`, r.Host, r.Host)
}

const (
	p1 = `{"resourceType":"Patient","id":"p1","name":[{"family":"One"}]}`
	p2 = `{"resourceType":"Patient","id":"p2","name":[{"family":"Two"}]}`
)

// TestHostileTargets runs the whole suite against servers that misbehave,
// one way each. Every run must end well within its bound, without a panic
// or a suite-level failure, with every spec passed, skipped or failed with
// a message, and the specs that meet the misbehaviour failed with a message
// that names its cause. Runs use Ginkgo's global state, so its subtests
// run one after another; the test itself runs beside TestFaultTable and
// TestEditionMismatch, whose suites run in child processes: it is the one
// parallel test that runs suites in this process.
func TestHostileTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server hostile
		// fail maps requirement IDs to text their failed specs' messages
		// must hold: the spec that owns the stage the misbehaviour breaks.
		fail map[string]string
		// blocked maps requirement IDs to text the prerequisite that
		// blocked their specs must name: the specs that need that stage.
		blocked map[string]string
	}{
		{
			name:   "plain FHIR server without the operation",
			server: hostile{kickoff: outcome(http.StatusNotFound, "not-supported", "Operation $davinci-data-export is not supported")},
			fail:   map[string]string{"PA-EXP-01": "404", "PA-CAP-02": "davinci-data-export"},
			blocked: map[string]string{"PA-SUB-01": "$davinci-data-export operation", "PA-BULK-01": "$davinci-data-export operation",
				"PA-ETYPE-02": "$davinci-data-export operation", "PA-BULK-06": "$davinci-data-export operation"},
		},
		{
			name: "HTML error pages everywhere",
			server: hostile{everything: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				io.WriteString(w, badGateway)
			}},
			fail:    map[string]string{"PA-EXP-01": "502", "PA-BULK-06": "502"},
			blocked: map[string]string{"PA-SUB-01": "full Group export", "PA-EXP-05": "full Group export"},
		},
		{
			name: "status answers 202 forever",
			server: hostile{kickoff: accepted, status: func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodDelete {
					w.WriteHeader(http.StatusAccepted)
					return
				}
				w.Header().Set("Retry-After", "1")
				w.Header().Set("X-Progress", strings.Repeat("still going ", 1000))
				w.WriteHeader(http.StatusAccepted)
			}},
			fail:    map[string]string{"PA-EXP-02": "did not complete in time", "PA-BULK-04": "404"},
			blocked: map[string]string{"PA-TYPE-01": "full Group export"},
		},
		{
			name: "a huge Retry-After",
			server: hostile{kickoff: accepted, status: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "86400")
				w.WriteHeader(http.StatusAccepted)
			}},
			fail:    map[string]string{"PA-EXP-02": "would be past the deadline"},
			blocked: map[string]string{"PA-SUB-01": "full Group export"},
		},
		{
			name: "status fails with 5xx error pages",
			server: hostile{kickoff: accepted, status: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "<html><body>Service Unavailable</body></html>")
			}},
			fail:    map[string]string{"PA-EXP-02": "Service Unavailable"},
			blocked: map[string]string{"PA-TYPE-01": "full Group export"},
		},
		{
			name: "a line longer than 64 MiB",
			server: hostile{kickoff: accepted, status: complete, file: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/fhir+ndjson")
				chunk := []byte(strings.Repeat("x", 1<<20))
				for range 80 {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			}},
			fail:    map[string]string{"PA-EXP-04": "longer than the limit"},
			blocked: map[string]string{"PA-MODE-02": "full Group export"},
		},
		{
			name: "a file that stalls mid-body",
			server: hostile{kickoff: accepted, status: complete, file: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/fhir+ndjson")
				io.WriteString(w, p1+"\n")
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
			}},
			fail:    map[string]string{"PA-EXP-04": "stalled"},
			blocked: map[string]string{"PA-MODE-02": "full Group export"},
		},
		{
			name: "truncated NDJSON",
			server: hostile{kickoff: accepted, status: complete, file: func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+ndjson\r\nContent-Length: %d\r\n\r\n%s\n%s", 2*len(p1)+2, p1, p2[:20])
				buf.Flush()
			}},
			fail:    map[string]string{"PA-EXP-04": "ended early"},
			blocked: map[string]string{"PA-SUB-01": "full Group export"},
		},
		{
			name: "status redirects in a loop",
			server: hostile{kickoff: accepted, status: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path, http.StatusFound)
			}},
			fail:    map[string]string{"PA-EXP-02": "redirects", "PA-BULK-04": "redirects"},
			blocked: map[string]string{"PA-SUB-01": "full Group export"},
		},
		{
			name: "the manifest is an HTML page",
			server: hostile{kickoff: accepted, status: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body>Your export is ready!</body></html>")
			}},
			fail:    map[string]string{"PA-EXP-03": "not a JSON object"},
			blocked: map[string]string{"PA-SUB-01": "full Group export"},
		},
		{
			name: "invalid UTF-8 served as text/plain",
			server: hostile{kickoff: accepted, status: complete, file: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, p1+"\n"+`{"resourceType":"Patient","id":"p2","name":[{"family":"Mu`+"\xf1\xff"+`oz"}]}`+"\n")
			}},
			fail: map[string]string{"PA-EXP-04": "Content-Type", "PA-EXP-05": "not valid UTF-8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.server)
			defer srv.Close()
			cfg := &config.Config{
				Target:  srv.URL,
				Edition: "2.0.0",
				Group:   "g1",
				Members: []string{"p1", "p2"},
				Auth:    config.Auth{Mode: "none"},
				Timeouts: config.Timeouts{
					Request: config.Duration{Duration: 2 * time.Second},
					Export:  config.Duration{Duration: 3 * time.Second},
				},
			}
			done := make(chan struct{})
			var res *runner.Result
			var err error
			start := time.Now()
			go func() {
				defer close(done)
				res, err = runner.Run(context.Background(), cfg, runner.Options{NoColor: true, Registry: runner.SharedRegistry(t)})
			}()
			// The bound is far above what a run takes (a few seconds per
			// export spec at most); passing it means something hangs.
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("the run did not end within 60 s")
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			t.Logf("run took %s", time.Since(start).Round(time.Millisecond))
			checkHostileReport(t, res, tt.fail, tt.blocked)
		})
	}
}

func checkHostileReport(t *testing.T, res *runner.Result, fail, blocked map[string]string) {
	t.Helper()
	r := res.Report
	if r.SuiteSucceeded {
		t.Error("the suite succeeded against a misbehaving server")
	}
	for _, sr := range r.SpecReports {
		name := sr.FullText()
		if sr.Failure.ForwardedPanic != "" || sr.State == types.SpecStatePanicked {
			t.Errorf("%s panicked: %s\n%s", name, sr.Failure.ForwardedPanic, sr.Failure.Location.FullStackTrace)
		}
		if sr.State.Is(types.SpecStateInterrupted | types.SpecStateAborted | types.SpecStateTimedout) {
			t.Errorf("%s ended %s: %s", name, sr.State, sr.Failure.Message)
		}
		if sr.LeafNodeType != types.NodeTypeIt && sr.State.Is(types.SpecStateFailureStates) {
			t.Errorf("suite node %s failed: %s", sr.LeafNodeType, sr.Failure.Message)
		}
	}
	seen := map[string]bool{}
	for _, s := range res.Outcome.Specs {
		if s.State != verdict.Passed && strings.TrimSpace(s.Reason) == "" {
			t.Errorf("%s ended %s without a message", s.Name, s.State)
		}
		if s.State == verdict.Blocked && s.BlockedBy == "" {
			t.Errorf("%s is blocked by nothing named", s.Name)
		}
		for _, id := range s.Requirements {
			if want, ok := fail[id]; ok {
				seen[id] = true
				switch {
				case s.State != verdict.Failed && s.State != verdict.Warning:
					t.Errorf("%s (%s) ended %s, want failed (%s): %s", s.Name, id, s.State, want, s.Reason)
				case !strings.Contains(s.Reason, want):
					t.Errorf("%s (%s) failed without saying %q:\n%s", s.Name, id, want, s.Reason)
				}
			}
			if want, ok := blocked[id]; ok {
				seen[id] = true
				switch {
				case len(res.Packages) == 0 && skippedForCompartment(s):
					// Without the FHIR packages the spec skips before it
					// needs the export: nothing to block.
				case s.State != verdict.Blocked:
					t.Errorf("%s (%s) ended %s, want blocked by %s: %s", s.Name, id, s.State, want, s.Reason)
				case !strings.Contains(s.BlockedBy, want):
					t.Errorf("%s (%s) is blocked by %q, want one naming %q", s.Name, id, s.BlockedBy, want)
				}
			}
		}
	}
	for id := range fail {
		if !seen[id] {
			t.Errorf("no spec of %s ran", id)
		}
	}
	for id := range blocked {
		if !seen[id] {
			t.Errorf("no spec of %s ran", id)
		}
	}
}

// TestRunEndsWhenDiscoveryStalls checks the exchanges made before any spec
// runs: a target whose answers stall mid-body (its CapabilityStatement, its
// SMART configuration) must end the run with one clear error within the
// request timeout, not hang it: it does not answer.
func TestRunEndsWhenDiscoveryStalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token_endpoint":"http://`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	defer srv.Close()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Target: srv.URL, Edition: "2.0.0", Group: "g1",
		Auth: config.Auth{Mode: "smart", ClientID: "c1", KeyID: "k1", Alg: "ES384",
			PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))},
		Timeouts: config.Timeouts{Request: config.Duration{Duration: time.Second}},
	}
	start := time.Now()
	_, err = runner.Run(context.Background(), cfg, runner.Options{NoColor: true, Registry: runner.SharedRegistry(t)})
	var ue *runner.UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no answer in time") && !strings.Contains(err.Error(), "request timeout") {
		t.Errorf("Run error %v, want one saying the target does not answer in time", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %s with a 1 s request timeout", d)
	}
}
