package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"007", 7 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Sunday, 01-Mar-26 12:00:30 GMT", 30 * time.Second, true}, // RFC 850, still allowed
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},     // in the past: no wait
		{"99999999999999999999999", maxRetryAfter * time.Second, true},
		{"", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := RetryAfter(tt.in, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// answer is one scripted response of a test server.
type answer struct {
	status int
	header map[string]string
	body   string
	// hangUp closes the connection without answering.
	hangUp bool
}

// script serves its answers in turn, repeating the last one, and counts
// the requests.
type script struct {
	answers []answer
	n       atomic.Int32
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	a := s.answers[min(i, len(s.answers)-1)]
	if a.hangUp {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("X-Seq", fmt.Sprint(i+1))
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

func repeat(a answer, n int) []answer {
	out := make([]answer, n)
	for i := range out {
		out[i] = a
	}
	return out
}

// recordedSleeps is a Client.sleep that returns at once and remembers the
// waits asked for.
type recordedSleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordedSleeps) sleep(_ context.Context, d time.Duration) {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
}

const manifestBody = `{"transactionTime":"2026-03-01T12:00:00Z","request":"x","requiresAccessToken":true,"output":[],"error":[]}`

func oo(code string) string {
	return `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"` + code + `","diagnostics":"d"}]}`
}

var (
	ms       = time.Millisecond
	pending  = answer{status: http.StatusAccepted}
	done     = answer{status: http.StatusOK, header: map[string]string{"Content-Type": "application/json"}, body: manifestBody}
	htmlPage = "<html><body><h1>502 Bad Gateway</h1></body></html>"
)

func after(status int, retryAfter string) answer {
	return answer{status: status, header: map[string]string{"Retry-After": retryAfter}}
}

// TestPollWaits checks the wait Poll chooses before each poll, and how
// polling ends, for scripted status answers. The waits are recorded, not
// spent.
func TestPollWaits(t *testing.T) {
	inFour := time.Now().Add(4 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name    string
		answers []answer
		min     time.Duration // MinWait; MaxWait is 1 s unless max is set
		max     time.Duration
		// waits are the waits expected, in order; a zero entry is checked
		// by date instead (an HTTP date has second precision).
		waits      []time.Duration
		dateWait   bool
		wantStatus int
		wantErr    error
	}{
		{name: "Retry-After seconds on 202", answers: []answer{after(202, "3"), after(202, "5"), done},
			min: 100 * ms, max: 10 * time.Second, waits: []time.Duration{3 * time.Second, 5 * time.Second}, wantStatus: 200},
		{name: "Retry-After seconds on 429", answers: []answer{after(429, "2"), pending, done},
			min: 100 * ms, max: 10 * time.Second, waits: []time.Duration{2 * time.Second, 100 * ms}, wantStatus: 200},
		{name: "Retry-After as an HTTP date", answers: []answer{after(202, inFour), done},
			min: 100 * ms, max: 10 * time.Second, dateWait: true, wantStatus: 200},
		{name: "429 without Retry-After backs off", answers: []answer{{status: 429}, {status: 429}, done},
			min: 100 * ms, waits: []time.Duration{100 * ms, 200 * ms}, wantStatus: 200},
		{name: "backoff doubles and is capped", answers: append(repeat(pending, 7), done),
			min: 100 * ms, waits: []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second, time.Second}, wantStatus: 200},
		{name: "Retry-After 0 waits MinWait and does not stop the backoff", answers: []answer{after(202, "0"), pending, after(202, "0"), pending, done},
			min: 100 * ms, waits: []time.Duration{100 * ms, 100 * ms, 100 * ms, 200 * ms}, wantStatus: 200},
		{name: "a huge Retry-After is capped at MaxWait", answers: []answer{after(202, "86400"), done},
			min: 100 * ms, max: 2 * time.Second, waits: []time.Duration{2 * time.Second}, wantStatus: 200},
		{name: "a 5xx burst is retried", answers: []answer{{status: 502, body: htmlPage}, {status: 503, body: htmlPage}, pending, done},
			min: 100 * ms, waits: []time.Duration{100 * ms, 200 * ms, 400 * ms}, wantStatus: 200},
		{name: "503 with Retry-After is retried when told", answers: []answer{{status: 503, header: map[string]string{"Retry-After": "3"}}, done},
			min: 100 * ms, max: 10 * time.Second, waits: []time.Duration{3 * time.Second}, wantStatus: 200},
		{name: "too many 5xx in a row end polling", answers: repeat(answer{status: 500, body: htmlPage}, 10),
			min: 100 * ms, waits: []time.Duration{100 * ms, 200 * ms, 400 * ms}, wantStatus: 500},
		{name: "a 202 resets the count of transient failures", answers: []answer{{status: 503}, {status: 503}, {status: 503}, pending, {status: 503}, {status: 503}, done},
			min: 100 * ms, waits: []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, wantStatus: 200},
		{name: "a transient OperationOutcome is retried", answers: []answer{{status: 400, body: oo("throttled")}, done},
			min: 100 * ms, waits: []time.Duration{100 * ms}, wantStatus: 200},
		{name: "a 5xx OperationOutcome is the export failing", answers: []answer{{status: 500, body: oo("processing")}, done},
			min: 100 * ms, waits: nil, wantStatus: 500},
		{name: "a 404 ends polling", answers: []answer{{status: 404, body: oo("not-found")}, done},
			min: 100 * ms, waits: nil, wantStatus: 404},
		{name: "a dropped connection is retried", answers: []answer{{hangUp: true}, done},
			min: 100 * ms, waits: []time.Duration{100 * ms}, wantStatus: 200},
		{name: "too many dropped connections end polling with the error", answers: repeat(answer{hangUp: true}, 10),
			min: 100 * ms, waits: []time.Duration{100 * ms, 200 * ms, 400 * ms}, wantErr: errAny},
		{name: "a redirect loop is not retried", answers: []answer{{status: http.StatusFound, header: map[string]string{"Location": "/status"}}},
			min: 100 * ms, waits: nil, wantErr: ErrTooManyRedirects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{answers: tt.answers}
			srv := httptest.NewServer(s)
			defer srv.Close()
			sl := &recordedSleeps{}
			hc := srv.Client()
			hc.CheckRedirect = CheckRedirect(3)
			c := &Client{Base: srv.URL, HTTP: hc, sleep: sl.sleep}
			maxWait := tt.max
			if maxWait == 0 {
				maxWait = time.Second
			}
			final, _, err := c.Poll(context.Background(), srv.URL+"/status", PollOptions{
				Deadline: time.Now().Add(time.Hour), MinWait: tt.min, MaxWait: maxWait,
			})
			switch {
			case tt.wantErr != nil:
				if err == nil {
					t.Fatalf("Poll succeeded with HTTP %d; want an error", final.StatusCode)
				}
				if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Errorf("Poll error %v is not %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("Poll: %v", err)
			case final.StatusCode != tt.wantStatus:
				t.Errorf("final status %d, want %d", final.StatusCode, tt.wantStatus)
			}
			if tt.dateWait {
				if len(sl.waits) != 1 || sl.waits[0] < 2*time.Second || sl.waits[0] > 4*time.Second {
					t.Errorf("waits %v, want one of about 4 s (an HTTP date 4 s ahead)", sl.waits)
				}
				return
			}
			if fmt.Sprint(sl.waits) != fmt.Sprint(tt.waits) {
				t.Errorf("waits %v, want %v", sl.waits, tt.waits)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestPollDeadline runs against real time: a status that never completes
// must end in ErrPollTimeout at the deadline, or at once when the next poll
// could only come after it.
func TestPollDeadline(t *testing.T) {
	big := strings.Repeat("x", 1<<20) // each 202 carries 1 MiB
	tests := []struct {
		name     string
		answers  []answer
		deadline time.Duration
		maxWait  time.Duration
		// minElapsed and maxElapsed bound when Poll returns.
		minElapsed, maxElapsed time.Duration
		minPolls               int32
	}{
		{name: "a huge Retry-After ends polling at once", answers: []answer{after(202, "86400")},
			deadline: 5 * time.Second, maxWait: 10 * time.Second, maxElapsed: 2 * time.Second, minPolls: 1},
		{name: "202 forever ends at the deadline", answers: []answer{{status: 202, body: big}},
			deadline: 1500 * ms, maxWait: 50 * ms, minElapsed: 1400 * ms, maxElapsed: 5 * time.Second, minPolls: 12},
		{name: "429 forever ends at the deadline", answers: []answer{after(429, "0")},
			deadline: time.Second, maxWait: 50 * ms, minElapsed: 900 * ms, maxElapsed: 5 * time.Second, minPolls: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{answers: tt.answers}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c := &Client{Base: srv.URL, HTTP: srv.Client()}
			start := time.Now()
			final, pend, err := c.Poll(context.Background(), srv.URL+"/status", PollOptions{
				Deadline: start.Add(tt.deadline), MinWait: 10 * ms, MaxWait: tt.maxWait,
			})
			elapsed := time.Since(start)
			if !errors.Is(err, ErrPollTimeout) {
				t.Fatalf("Poll = %v, %v; want ErrPollTimeout", final, err)
			}
			if !strings.Contains(err.Error(), "did not complete in time") {
				t.Errorf("error %q does not say the export did not complete in time", err)
			}
			if elapsed < tt.minElapsed || elapsed > tt.maxElapsed {
				t.Errorf("Poll returned after %s, want between %s and %s", elapsed, tt.minElapsed, tt.maxElapsed)
			}
			if n := s.n.Load(); n < tt.minPolls {
				t.Errorf("%d status requests, want at least %d", n, tt.minPolls)
			}
			// Memory stays bounded: few 202s kept, each cut short.
			if len(pend) > keptPending {
				t.Errorf("%d pending responses kept, want at most %d", len(pend), keptPending)
			}
			for _, p := range pend {
				if len(p.Body) > keptPendingBody {
					t.Errorf("a kept 202 holds %d bytes of body, want at most %d", len(p.Body), keptPendingBody)
				}
			}
			if len(pend) > 0 && pend[0].Header.Get("X-Seq") != "1" {
				t.Errorf("the first pending response kept is #%s, want the first one", pend[0].Header.Get("X-Seq"))
			}
		})
	}
}

func TestPollCancelled(t *testing.T) {
	srv := httptest.NewServer(&script{answers: []answer{pending}})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*ms, cancel)
	c := &Client{Base: srv.URL, HTTP: srv.Client()}
	_, _, err := c.Poll(ctx, srv.URL+"/status", PollOptions{Deadline: time.Now().Add(time.Minute), MinWait: 20 * ms, MaxWait: 20 * ms})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Poll after cancel = %v, want context.Canceled", err)
	}
}

// fakeAuth issues "tok-1", "tok-2", … renewing after Invalidate.
type fakeAuth struct {
	mu          sync.Mutex
	n           int
	current     string
	invalidated int
}

func (a *fakeAuth) Token(context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.current == "" {
		a.n++
		a.current = fmt.Sprintf("tok-%d", a.n)
	}
	return a.current, nil
}

func (a *fakeAuth) Invalidate() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.current = ""
	a.invalidated++
}

// tokenServer answers 401 unless the bearer token is one of valid, and
// remembers the tokens it saw.
type tokenServer struct {
	valid map[string]bool
	mu    sync.Mutex
	seen  []string
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	s.seen = append(s.seen, tok)
	s.mu.Unlock()
	if !s.valid[tok] {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	fmt.Fprintln(w, `{"resourceType":"Patient","id":"p1"}`)
}

func TestDoRenewsTokenOnce(t *testing.T) {
	tests := []struct {
		name        string
		valid       []string
		req         Request
		wantStatus  int
		wantSeen    string
		invalidated int
	}{
		{"expired token renewed", []string{"tok-2"}, Request{Method: "GET", URL: "Group/g1"}, 200, `["tok-1" "tok-2"]`, 1},
		{"valid token used once", []string{"tok-1"}, Request{Method: "GET", URL: "Group/g1"}, 200, `["tok-1"]`, 0},
		{"refused twice: no loop", nil, Request{Method: "GET", URL: "Group/g1"}, 401, `["tok-1" "tok-2"]`, 1},
		{"NoRetry", []string{"tok-2"}, Request{Method: "GET", URL: "Group/g1", NoRetry: true}, 401, `["tok-1"]`, 0},
		{"explicit token is not renewed", []string{"tok-2"}, Request{Method: "GET", URL: "Group/g1", Token: "mine"}, 401, `["mine"]`, 0},
		{"NoAuth sends none", []string{"tok-2"}, Request{Method: "GET", URL: "Group/g1", NoAuth: true}, 401, `[""]`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &tokenServer{valid: map[string]bool{}}
			for _, v := range tt.valid {
				ts.valid[v] = true
			}
			srv := httptest.NewServer(ts)
			defer srv.Close()
			a := &fakeAuth{}
			var exs []evidence.Exchange
			c := &Client{Base: srv.URL, HTTP: srv.Client(), Auth: a, Record: func(ex evidence.Exchange) { exs = append(exs, ex) }}
			resp, err := c.Do(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if seen := fmt.Sprintf("%q", ts.seen); seen != tt.wantSeen {
				t.Errorf("tokens sent %s, want %s", seen, tt.wantSeen)
			}
			if a.invalidated != tt.invalidated {
				t.Errorf("Invalidate called %d times, want %d", a.invalidated, tt.invalidated)
			}
			b, _ := json.Marshal(exs)
			if strings.Contains(string(b), "tok-") || strings.Contains(string(b), "mine") {
				t.Errorf("a token appears in the evidence: %s", b)
			}
		})
	}
}

func TestDoFailures(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(`{"resourceType":`))
		w.(http.Flusher).Flush()
		stall(r)
	})
	mux.HandleFunc("/no-headers", func(w http.ResponseWriter, r *http.Request) { stall(r) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		path    string
		is      error
		mention string
	}{
		{"/loop", ErrTooManyRedirects, "stopped after 5 redirects"},
		{"/big", nil, "larger than 65536 bytes"},
		{"/stall", ErrRequestTimeout, "request timeout"},
		{"/no-headers", ErrRequestTimeout, "request timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var exs []evidence.Exchange
			hc := srv.Client()
			hc.CheckRedirect = CheckRedirect(5)
			c := &Client{Base: srv.URL, HTTP: hc, MaxBody: 64 << 10, RequestTimeout: 300 * ms,
				Record: func(ex evidence.Exchange) { exs = append(exs, ex) }}
			start := time.Now()
			_, err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: tt.path})
			if err == nil {
				t.Fatal("Do succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Do took %s", d)
			}
			if len(exs) == 0 || exs[len(exs)-1].Error == "" {
				t.Errorf("the failed exchange is not recorded with its error: %+v", exs)
			}
		})
	}
}

// stall blocks a handler until the client goes away (or 30 s, so that a
// broken test cannot hang the server's Close for ever).
func stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name, body, mention string
	}{
		{"html error page", "<!DOCTYPE html><html><body>Internal error</body></html>", "not a JSON object; it starts \"<!DOCTYPE html>"},
		{"empty", "  \n", "empty"},
		{"null", "null", "not a JSON object"},
		{"array", "[]", "not a JSON object"},
		{"truncated", `{"transactionTime":"2026-03-01T12:00:00Z","output":[{"type":"Pat`, "not a valid Bulk Data manifest"},
		{"output not a list", `{"output":"Patient.ndjson"}`, "not a valid Bulk Data manifest"},
		{"valid", manifestBody, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tt.body))
			if tt.mention == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(m.Raw) != tt.body || m.RequiresAccessToken == nil || !*m.RequiresAccessToken {
					t.Errorf("manifest %+v", m)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("ParseManifest error %v, want one mentioning %q", err, tt.mention)
			}
		})
	}
}

func TestStartExportRetries429(t *testing.T) {
	tests := []struct {
		name       string
		answers    []answer
		retryFor   time.Duration // 0: RetryUntil unset
		waits      string
		wantStatus int
	}{
		{"429 with Retry-After then accepted", []answer{after(429, "2"), {status: 202}}, time.Minute, "[2s]", 202},
		{"429 without Retry-After backs off", []answer{{status: 429}, {status: 429}, {status: 202}}, time.Minute, "[1s 2s]", 202},
		{"no RetryUntil returns the 429", []answer{after(429, "2"), {status: 202}}, 0, "[]", 429},
		{"a wait past RetryUntil returns the 429", []answer{after(429, "120"), {status: 202}}, time.Minute, "[]", 429},
		{"other refusals are not retried", []answer{{status: 400, body: oo("invalid")}, {status: 202}}, time.Minute, "[]", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&script{answers: tt.answers})
			defer srv.Close()
			sl := &recordedSleeps{}
			c := &Client{Base: srv.URL, HTTP: srv.Client(), sleep: sl.sleep}
			k := Kickoff{Group: "g1"}
			if tt.retryFor > 0 {
				k.RetryUntil = time.Now().Add(tt.retryFor)
			}
			resp, err := c.StartExport(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := fmt.Sprint(sl.waits); got != tt.waits {
				t.Errorf("waits %s, want %s", got, tt.waits)
			}
		})
	}
}

// TestDoNamesTheCallersCause checks that an exchange cut short by the
// caller's context reports the reason the caller gave (the export timeout,
// say), not a bare "context deadline exceeded".
func TestDoNamesTheCallersCause(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stall(r) }))
	defer srv.Close()
	exportTimeout := errors.New("the export did not complete in time (timeouts.export 200ms)")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 200*ms, exportTimeout)
	defer cancel()
	c := &Client{Base: srv.URL, HTTP: srv.Client(), RequestTimeout: time.Minute}
	_, err := c.Do(ctx, Request{Method: http.MethodGet, URL: "Group/g1"})
	if !errors.Is(err, exportTimeout) {
		t.Errorf("Do error %v, want the caller's cause %v", err, exportTimeout)
	}
}
