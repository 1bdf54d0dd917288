package smart

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/keys/keystest"
)

func TestRequestToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr string // "" means success
		code    string // TokenError code
	}{
		{"success", 200, `{"access_token":"t1","token_type":"bearer","expires_in":300,"scope":"system/*.read"}`, "", ""},
		{"token_type any case", 200, `{"access_token":"t1","token_type":"Bearer"}`, "", ""},
		{"OAuth error", 400, `{"error":"invalid_client","error_description":"bad signature"}`, "invalid_client", "invalid_client"},
		{"HTML error page", 502, `<html>bad gateway</html>`, "HTTP 502", ""},
		{"not JSON", 200, `<html>`, "not the expected JSON", ""},
		{"no access_token", 200, `{"token_type":"bearer"}`, "no access_token", ""},
		{"wrong token_type", 200, `{"access_token":"t","token_type":"mac"}`, "token_type", ""},
		{"expires_in a string", 200, `{"access_token":"t","token_type":"bearer","expires_in":"300"}`, "not the expected JSON", ""},
		{"negative expires_in", 200, `{"access_token":"t","token_type":"bearer","expires_in":-1}`, "negative", ""},
		{"oversize", 200, `{"access_token":"` + strings.Repeat("a", maxTokenResponse) + `"}`, "larger than", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
				}
				if err := r.ParseForm(); err != nil || r.PostForm.Get("client_assertion") != "a.b.c" || r.PostForm.Get("scope") != "system/*.read" {
					t.Errorf("form %v (%v)", r.PostForm, err)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			tr, resp, err := RequestToken(context.Background(), srv.Client(), srv.URL, Form("a.b.c", "system/*.read"))
			if resp == nil {
				t.Fatalf("no response returned (err %v)", err)
			}
			captured, rerr := io.ReadAll(resp.Body)
			if rerr != nil || (len(tc.body) <= maxTokenResponse && string(captured) != tc.body) {
				t.Errorf("captured body %.80q, want %.80q", captured, tc.body)
			}
			if tc.wantErr == "" {
				if err != nil || tr.AccessToken != "t1" {
					t.Fatalf("tr %+v, err %v", tr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.wantErr)
			}
			var te *TokenError
			if errors.As(err, &te) != (tc.status >= 300) {
				t.Errorf("TokenError %v for HTTP %d", te, tc.status)
			}
			if te != nil && (te.Code != tc.code || te.StatusCode != tc.status) {
				t.Errorf("TokenError %+v", te)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		if _, resp, err := RequestToken(context.Background(), nil, url, Form("a", "s")); err == nil || resp != nil {
			t.Errorf("resp %v, err %v", resp, err)
		}
	})
}

// tokenServer issues numbered tokens with a given lifetime and counts the
// requests, checking each carries a fresh assertion.
type tokenServer struct {
	*httptest.Server
	requests atomic.Int64
	delay    time.Duration
	mu       sync.Mutex
	jtis     map[string]bool
}

func newTokenServer(t *testing.T, expiresIn int, delay time.Duration) *tokenServer {
	ts := &tokenServer{delay: delay, jtis: map[string]bool{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.requests.Add(1)
		if err := r.ParseForm(); err != nil {
			t.Errorf("form: %v", err)
		}
		parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
		var claims struct {
			JTI string `json:"jti"`
		}
		if b, err := decodeB64(parts[1]); err != nil || json.Unmarshal(b, &claims) != nil {
			t.Errorf("bad assertion %q", r.PostForm.Get("client_assertion"))
		}
		ts.mu.Lock()
		if ts.jtis[claims.JTI] {
			t.Errorf("jti %s reused", claims.JTI)
		}
		ts.jtis[claims.JTI] = true
		ts.mu.Unlock()
		time.Sleep(ts.delay)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"bearer","expires_in":%d,"scope":"system/*.read"}`, n, expiresIn)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func decodeB64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}

// testClock is a settable clock safe for concurrent use.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestTokenSourceRenews(t *testing.T) {
	k := keystest.New(t)
	srv := newTokenServer(t, 300, 0)
	clk := newTestClock()
	ts := &TokenSource{
		Credentials: Credentials{ClientID: "c", KeyID: "k", Key: k.EC, TokenURL: srv.URL, Scope: "system/*.read"},
		HTTPClient:  srv.Client(),
		Now:         clk.Now,
	}
	ctx := context.Background()
	get := func(want string) {
		t.Helper()
		tok, err := ts.Token(ctx)
		if err != nil || tok != want {
			t.Fatalf("token %q, %v; want %q", tok, err, want)
		}
	}
	get("token-1")
	clk.Advance(269 * time.Second) // 31 s left: still cached
	get("token-1")
	clk.Advance(2 * time.Second) // 29 s left: within the 30 s margin
	get("token-2")
	clk.Advance(time.Hour) // long expired
	get("token-3")
	ts.Invalidate()
	get("token-4")
	if n := srv.requests.Load(); n != 4 {
		t.Errorf("%d token requests, want 4", n)
	}
}

func TestTokenSourceShortLifetime(t *testing.T) {
	k := keystest.New(t)
	srv := newTokenServer(t, 20, 0) // margin is capped at half the lifetime
	clk := newTestClock()
	ts := &TokenSource{Credentials: Credentials{ClientID: "c", Key: k.EC, TokenURL: srv.URL}, HTTPClient: srv.Client(), Now: clk.Now}
	first, err := ts.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Second)
	if tok, _ := ts.Token(context.Background()); tok != first {
		t.Errorf("renewed after 9 s of a 20 s token")
	}
	clk.Advance(time.Second)
	if tok, _ := ts.Token(context.Background()); tok == first {
		t.Errorf("not renewed after 10 s of a 20 s token")
	}
}

// TestTokenSourceConcurrent runs many callers at once: they share one
// request, and under -race the cache shows no data race.
func TestTokenSourceConcurrent(t *testing.T) {
	k := keystest.New(t)
	srv := newTokenServer(t, 300, 50*time.Millisecond)
	clk := newTestClock()
	ts := &TokenSource{Credentials: Credentials{ClientID: "c", Key: k.EC, TokenURL: srv.URL}, HTTPClient: srv.Client(), Now: clk.Now}
	const callers = 16
	var wg sync.WaitGroup
	toks := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { toks[i], errs[i] = ts.Token(context.Background()) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || toks[i] != "token-1" {
			t.Errorf("caller %d: %q, %v", i, toks[i], errs[i])
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d token requests for concurrent callers, want 1", n)
	}

	// Renewals racing with Invalidate and reads.
	for i := range callers {
		wg.Go(func() {
			if i%4 == 0 {
				ts.Invalidate()
			}
			clk.Advance(10 * time.Second)
			if _, err := ts.Token(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestTokenSourceErrors(t *testing.T) {
	k := keystest.New(t)
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_client"}`)
	}))
	defer refuse.Close()
	ts := &TokenSource{Credentials: Credentials{ClientID: "c", Key: k.EC, TokenURL: refuse.URL}, HTTPClient: refuse.Client()}
	_, err := ts.Token(context.Background())
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_client" {
		t.Errorf("err %v, want the token endpoint's invalid_client", err)
	}

	// A caller whose context ends while another's request is in flight
	// returns at once; the request in flight still serves the others.
	slow := newTokenServer(t, 300, 300*time.Millisecond)
	ts = &TokenSource{Credentials: Credentials{ClientID: "c", Key: k.EC, TokenURL: slow.URL}, HTTPClient: slow.Client()}
	done := make(chan error, 1)
	go func() { _, err := ts.Token(context.Background()); done <- err }()
	for slow.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ts.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("first caller: %v", err)
	}
}
