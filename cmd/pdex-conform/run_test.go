package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/reports"
	"github.com/pdex-conform/pdex-conform/runner"
)

// secretTap sits in front of the reference server and keeps every secret
// that crosses the wire: client assertions sent to the token endpoint,
// access tokens it issues and bearer tokens clients present.
type secretTap struct {
	next http.Handler

	mu      sync.Mutex
	secrets map[string]string // value -> what it is
}

func (s *secretTap) keep(what, v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.secrets[v]; !seen {
		s.secrets[v] = what
	}
}

func (s *secretTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		s.keep("a bearer token", tok)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			s.keep("a client assertion", form.Get("client_assertion"))
		}
	}
	rec := &teeWriter{ResponseWriter: w}
	s.next.ServeHTTP(rec, r)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(rec.body.Bytes(), &tok) == nil {
		s.keep("an access token", tok.AccessToken)
	}
}

// teeWriter keeps the start of a response body.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if t.body.Len() < 64<<10 {
		t.body.Write(p)
	}
	return t.ResponseWriter.Write(p)
}

// tappedReference starts a reference server behind a secretTap and writes
// the run configuration for it.
func tappedReference(t *testing.T, faults ...string) (cfgPath string, tap *secretTap, key string) {
	t.Helper()
	tap = &secretTap{secrets: map[string]string{}}
	ts := httptest.NewUnstartedServer(tap)
	base := "http://" + ts.Listener.Addr().String()
	ctx := context.Background()
	srv, err := reference.New(ctx, reference.Options{DB: filepath.Join(t.TempDir(), "ref.db"), BaseURL: base, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	tap.next = srv.Handler()
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	facts, err := srv.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := runner.ReferenceConfig(facts)
	if cfg.Auth.PrivateKey == "" {
		t.Fatal("the reference run configuration has no private key")
	}
	cfgPath = filepath.Join(t.TempDir(), "run.yaml")
	if err := cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	return cfgPath, tap, cfg.Auth.PrivateKey
}

// TestRunLeaksNoSecret runs the suites against a reference server with a
// failing spec and searches every output, the HTML, JUnit and JSON reports
// and the console (verbose, so Ginkgo's own account is included), for the
// client's private key and every token and assertion that crossed the wire.
func TestRunLeaksNoSecret(t *testing.T) {
	cfgPath, tap, key := tappedReference(t, "wrong-content-type")
	dir := t.TempDir()
	outs := map[string]string{
		"HTML": filepath.Join(dir, "r.html"), "JUnit": filepath.Join(dir, "r.xml"), "JSON": filepath.Join(dir, "r.json"),
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--config", cfgPath, "--verbose",
		"--report", outs["HTML"], "--junit", outs["JUnit"], "--json", outs["JSON"]}, &stdout, &stderr)
	if code != exitFailures {
		t.Fatalf("exit code %d, want %d (a spec fails)\nstderr: %s", code, exitFailures, stderr.String())
	}

	texts := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	for name, p := range outs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts[name] = string(b)
	}
	// The outputs must be substantial, or the search proves nothing.
	for name, want := range map[string]string{"HTML": "Authorization: Bearer [REDACTED]", "JUnit": "<failure", "JSON": `"verdict": "not conformant"`, "stderr": "kick-off", "stdout": "not conformant"} {
		if !strings.Contains(texts[name], want) {
			t.Errorf("%s lacks %q: the run did not produce what the search needs", name, want)
		}
	}

	secrets := map[string]string{key: "the private key"}
	for _, line := range strings.Split(key, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			secrets[line] = "a line of the private key"
		}
	}
	tap.mu.Lock()
	for v, what := range tap.secrets {
		secrets[v] = what
	}
	tap.mu.Unlock()
	var assertions, tokens int
	for _, what := range secrets {
		switch what {
		case "a client assertion":
			assertions++
		case "an access token":
			tokens++
		}
	}
	if assertions == 0 || tokens == 0 {
		t.Fatalf("the tap saw %d client assertions and %d access tokens; the run must authorize", assertions, tokens)
	}
	for name, text := range texts {
		for v, what := range secrets {
			if strings.Contains(text, v) {
				t.Errorf("%s holds %s (%.20s…)", name, what, v)
			}
		}
		// Any JWT-like value: assertions and the reference's tokens wrap a
		// base64url JSON segment.
		if i := strings.Index(text, "eyJ"); i >= 0 {
			t.Errorf("%s holds a JWT-like value: …%s…", name, text[max(0, i-40):min(len(text), i+40)])
		}
	}
}

func TestRunQuietPrintsOnlyTheVerdict(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--target", "reference", "--fault", "wrong-content-type", "--quiet"}, &stdout, &stderr)
	if code != exitFailures {
		t.Errorf("exit code %d, want %d", code, exitFailures)
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	// wrong-content-type fails the file spec and the API description specs.
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "not conformant: http://127.0.0.1:") || !regexp.MustCompile(`\b[1-9][0-9]* failed`).MatchString(lines[0]) {
		t.Errorf("--quiet stdout = %q, want one verdict line", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("--quiet stderr = %q, want nothing", stderr.String())
	}
	if strings.Contains(stdout.String(), "\x1b[") {
		t.Error("colour codes off a terminal")
	}
}

func TestRunConsole(t *testing.T) {
	var stdout, stderr bytes.Buffer
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	code := run(context.Background(), []string{"run", "--target", "reference", "--fault", "wrong-content-type", "--json", jsonPath}, &stdout, &stderr)
	if code != exitFailures {
		t.Fatalf("exit code %d, want %d\n%s", code, exitFailures, stderr.String())
	}
	// Progress on long work, on stderr.
	for _, want := range []string{"kick-off: POST Group/", "downloaded ExplanationOfBenefit:", "export complete:", "validating Patient:"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}
	// The summary table, the failure in plain words, the verdict last; and
	// nothing of Ginkgo's own output.
	out := stdout.String()
	for _, want := range []string{"AREA", "BLOCKED", "Full export", "TOTAL", "FAIL PA-EXP-04", `(got "application/json"; wanted "application/fhir+ndjson")`, "Wrote " + jsonPath, "resources validated", "Results hash sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "not conformant: ") {
		t.Errorf("the last line is %q, want the verdict", last)
	}
	for _, noise := range []string{"Ran 7 of", "Summarizing", "------------------------------", "<*fmt.", "Expected\n", "suites/export.go:"} {
		if strings.Contains(out+stderr.String(), noise) {
			t.Errorf("the console shows Ginkgo's own output (%q)", noise)
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var res reports.JSONResults
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Run.Verdict != reports.NotConformant || !strings.HasPrefix(res.Run.Target, "http://127.0.0.1:") || len(res.Run.Faults) != 1 {
		t.Errorf("JSON run = %+v", res.Run)
	}
	// The console's results hash is the JSON file's.
	sum := sha256.Sum256(b)
	if want := "Results hash sha256:" + hex.EncodeToString(sum[:]); !strings.Contains(out, want) {
		t.Errorf("the console does not print the JSON results' hash %s", want)
	}
	if res.Run.ToolVersion == "dev" || res.Run.ToolVersion == "" {
		t.Errorf("the tool version %q says nothing of the build", res.Run.ToolVersion)
	}
}

// TestRunRealTargetErrors: an unreachable target is one line and exit 1;
// the tester's own mistakes are configuration errors, exit 2, with the fix;
// both before any spec runs.
func TestRunRealTargetErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyFile := filepath.Join(dir, "ec.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	writeConfig := func(body string) string {
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", time.Now().UnixNano()))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		code int
		say  []string
	}{
		{"unreachable target", []string{"--target", closed, "--group", "g1"}, exitFailures, []string{"does not answer", "connection refused"}},
		{"an EC key with alg RS384", []string{"--config", writeConfig("target: " + closed + "\ngroup: g1\nauth:\n  mode: smart\n  clientId: c\n  alg: RS384\n  privateKeyFile: " + keyFile + "\n")},
			exitUsage, []string{"auth.alg is RS384", "Set auth.alg to ES384"}},
		{"an unreadable key", []string{"--config", writeConfig("target: " + closed + "\ngroup: g1\nauth:\n  mode: smart\n  clientId: c\n  privateKeyFile: /no/such/key.pem\n")},
			exitUsage, []string{"cannot be read", "auth.privateKeyFile"}},
		{"a misspelt setting", []string{"--config", writeConfig("target: " + closed + "\ngroup: g1\nmembres: [a]\n")},
			exitUsage, []string{"membres"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			got := run(context.Background(), append([]string{"run"}, tt.args...), &stdout, &stderr)
			if got != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", got, tt.code, stdout.String(), stderr.String())
			}
			// After the progress line that says what runs, one plain line.
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			msg := lines[len(lines)-1]
			if !strings.HasPrefix(msg, "pdex-conform: ") || strings.Count(stderr.String(), "pdex-conform: ") != 1 {
				t.Errorf("stderr does not end with one plain line: %q", stderr.String())
			}
			for _, w := range tt.say {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr does not say %q: %s", w, msg)
				}
			}
			for _, leak := range []string{"config.Config", "*ecdsa", "yaml: unmarshal"} {
				if strings.Contains(msg, leak) {
					t.Errorf("stderr names Go internals (%s): %s", leak, msg)
				}
			}
			if strings.Contains(stdout.String(), "AREA") {
				t.Error("specs ran")
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suites")
	}
	// The clean reference server is conformant only when profiles can be
	// checked; without the FHIR packages the same run is incomplete.
	clean := exitOK
	if os.Getenv("FHIR_PACKAGES") == "" {
		clean = exitIncomplete
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no failures (clean reference server)", []string{"--target", "reference", "--quiet"}, clean},
		{"no failures with --fail-on should", []string{"--target", "reference", "--quiet", "--fail-on", "should"}, clean},
		{"a SHALL failure", []string{"--target", "reference", "--quiet", "--fault", "manifest-missing-field"}, exitFailures},
		{"incomplete is no failure", []string{"--target", "reference", "--quiet", "--label-filter", "PA-EXP-01"}, exitIncomplete},
		{"incomplete stays incomplete under a strict gate", []string{"--target", "reference", "--quiet", "--strict", "--label-filter", "PA-EXP-01"}, exitIncomplete},
		{"a gap analysis never certifies", []string{"--target", "reference", "--quiet", "--operation", "export"}, exitFailures},
		{"bad --operation", []string{"--target", "reference", "--operation", "davinci"}, exitUsage},
		{"unknown flag", []string{"--no-such-flag"}, exitUsage},
		{"bad --fail-on", []string{"--target", "reference", "--fail-on", "sometimes"}, exitUsage},
		{"missing report folder", []string{"--target", "reference", "--report", "/no/such/folder/r.html"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			got := run(context.Background(), append([]string{"run"}, tt.args...), &stdout, &stderr)
			if got != tt.want {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", got, tt.want, stdout.String(), stderr.String())
			}
			if tt.want == exitUsage {
				if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); !strings.HasPrefix(lines[len(lines)-1], "pdex-conform: ") {
					t.Errorf("a usage error should end with one plain line on stderr, got %q", stderr.String())
				}
				if time.Since(start) > 10*time.Second {
					t.Error("a usage error took a run to find")
				}
			}
		})
	}
}

// TestRunWithoutPackagesIsIncomplete: with no FHIR package anywhere, profiles
// are not checked, so even the clean reference server cannot be judged
// conformant: exit 3, never 0.
func TestRunWithoutPackagesIsIncomplete(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suites")
	}
	t.Setenv("FHIR_PACKAGES", "")
	t.Setenv("HOME", t.TempDir()) // no ~/.fhir/packages either
	var stdout, stderr bytes.Buffer
	got := run(context.Background(), []string{"run", "--target", "reference"}, &stdout, &stderr)
	if got != exitIncomplete {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", got, exitIncomplete, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "PA-PROF-01") || !strings.Contains(stdout.String(), "incomplete") {
		t.Errorf("the summary does not say the profiles went unchecked:\n%s", stdout.String())
	}
}
