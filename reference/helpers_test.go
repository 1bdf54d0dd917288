package reference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/keys"
)

// The default data set is generated once per test binary: every server of
// the tests loads it into its own database.
var (
	dataOnce sync.Once
	dataSet  *fixtures.Dataset
	dataErr  error
)

func testData(t testing.TB) *fixtures.Dataset {
	t.Helper()
	dataOnce.Do(func() { dataSet, dataErr = fixtures.Default() })
	if dataErr != nil {
		t.Fatalf("generating the default data set: %v", dataErr)
	}
	return dataSet
}

// templateDir holds the test binary's prepared databases (TestMain makes
// and removes it); templates maps an edition and its variants to one.
var (
	templateDir string
	templatesMu sync.Mutex
	templates   = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reference-templates-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	templateDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// templateFor returns a database holding the default data set and the test
// clients for the edition and variants, prepared once: most tests start a
// server of their own, and loading the data and making keys is most of a
// start.
func templateFor(t testing.TB, opts Options) string {
	t.Helper()
	vs := slices.Clone(opts.Variants)
	slices.Sort(vs)
	key := opts.Edition + "+" + strings.Join(vs, ",")
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if p, ok := templates[key]; ok {
		return p
	}
	p := filepath.Join(templateDir, fmt.Sprintf("template-%d.db", len(templates)))
	if err := Prepare(context.Background(), p, Options{Edition: opts.Edition, Variants: vs, Data: testData(t)}); err != nil {
		t.Fatalf("preparing a database template: %v", err)
	}
	templates[key] = p
	return p
}

// testClock is a settable clock for the server and the token assertions.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// harness is one reference server listening on loopback, with what the
// tests need to talk to it as its registered clients.
type harness struct {
	t    testing.TB
	srv  *Running
	data *fixtures.Dataset
	hc   *http.Client
	now  func() time.Time

	mu     sync.Mutex
	tokens map[string]string

	// Jobs are held in "running" while holding is set (see hold).
	holding atomic.Bool
	holdMu  sync.Mutex
	release chan struct{}

	closeOnce sync.Once
}

// startServer starts a server; opts.DB defaults to a fresh file, opts.Data
// to the default set. The server is closed when the test ends.
func startServer(t testing.TB, opts Options) *harness {
	t.Helper()
	return startServerHeld(t, opts, false)
}

// startServerHeld starts a server whose workers hold jobs from the start
// when held is set (see hold).
func startServerHeld(t testing.TB, opts Options, held bool) *harness {
	t.Helper()
	h := &harness{t: t, data: opts.Data, tokens: map[string]string{}, release: make(chan struct{})}
	if held {
		h.hold()
	}
	if opts.DB == "" && opts.Data == nil && opts.Load == nil && opts.Template == "" {
		// The default data set in a database of the test's own, copied
		// from a prepared one.
		opts.Template = templateFor(t, opts)
	}
	if h.data == nil {
		h.data = testData(t)
		if opts.Load == nil {
			opts.Data = h.data
		}
	}
	if opts.DB == "" {
		opts.DB = t.TempDir() + "/reference.db"
	}
	h.now = time.Now
	if opts.Now != nil {
		h.now = opts.Now
	}
	if opts.beforeExport == nil {
		opts.beforeExport = h.beforeExport
	}
	if h.hc == nil {
		h.hc = &http.Client{Timeout: 30 * time.Second}
	}
	srv, err := Listen(context.Background(), "127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("starting the reference server: %v", err)
	}
	h.srv = srv
	t.Cleanup(h.close)
	return h
}

// close stops the server (once): jobs held by hold stay "running" in the
// database, as when a server stops in the middle of an export.
func (h *harness) close() {
	h.closeOnce.Do(func() {
		if err := h.srv.Close(); err != nil {
			h.t.Errorf("closing the server: %v", err)
		}
		h.unhold()
	})
}

// hold makes the workers keep every job they claim in "running" until
// unhold, so that tests can see a job in progress deterministically.
func (h *harness) hold() {
	h.holdMu.Lock()
	defer h.holdMu.Unlock()
	if h.holding.Swap(true) {
		return
	}
	h.release = make(chan struct{})
}

func (h *harness) unhold() {
	h.holdMu.Lock()
	defer h.holdMu.Unlock()
	if h.holding.Swap(false) {
		close(h.release)
	}
}

func (h *harness) beforeExport(ctx context.Context, _ string) error {
	h.holdMu.Lock()
	held, release := h.holding.Load(), h.release
	h.holdMu.Unlock()
	if !held {
		return nil
	}
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *harness) testClient(id string) TestClient {
	h.t.Helper()
	for _, c := range h.srv.TestClients() {
		if c.ID == id {
			return c
		}
	}
	h.t.Fatalf("no test client %s", id)
	return TestClient{}
}

func (h *harness) credentials(id string) smart.Credentials {
	h.t.Helper()
	c := h.testClient(id)
	key, err := keys.ParsePrivate([]byte(c.PrivateKey))
	if err != nil {
		h.t.Fatalf("client %s key: %v", id, err)
	}
	return smart.Credentials{ClientID: c.ID, KeyID: c.KeyID, Alg: c.Alg, Key: key, TokenURL: h.srv.TokenURL()}
}

// requestToken asks the token endpoint for a token with an assertion built
// with opts (the zero value is a correct one).
func (h *harness) requestToken(id, scope string, opts smart.AssertionOptions) (*smart.TokenResponse, *http.Response, error) {
	h.t.Helper()
	if opts.Now.IsZero() {
		opts.Now = h.now()
	}
	a, err := h.credentials(id).Assertion(opts)
	if err != nil {
		h.t.Fatalf("assertion: %v", err)
	}
	return smart.RequestToken(context.Background(), h.hc, h.srv.TokenURL(), smart.Form(a, scope))
}

// token returns a cached system/*.read access token for a test client.
func (h *harness) token(id string) string {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if tok, ok := h.tokens[id]; ok {
		return tok
	}
	tr, _, err := h.requestToken(id, "system/*.read", smart.AssertionOptions{})
	if err != nil {
		h.t.Fatalf("token for %s: %v", id, err)
	}
	h.tokens[id] = tr.AccessToken
	return tr.AccessToken
}

// bulk returns a Bulk Data client authorized as a test client.
func (h *harness) bulk(id string) *bulk.Client {
	return &bulk.Client{Base: h.srv.URL, HTTP: h.hc, Auth: bulk.StaticToken(h.token(id))}
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// outcome decodes an OperationOutcome body, or reports why it is not one.
func (r response) outcome() (map[string]any, error) {
	var oo map[string]any
	if err := json.Unmarshal(r.body, &oo); err != nil {
		return nil, fmt.Errorf("body is not JSON: %v: %.200s", err, r.body)
	}
	if oo["resourceType"] != "OperationOutcome" {
		return nil, fmt.Errorf("body is a %v, not an OperationOutcome: %.200s", oo["resourceType"], r.body)
	}
	issues, _ := oo["issue"].([]any)
	if len(issues) == 0 {
		return nil, fmt.Errorf("OperationOutcome has no issue: %.200s", r.body)
	}
	return oo, nil
}

// do sends one request. token "" sends no Authorization header.
func (h *harness) do(method, path, token string, header http.Header, body []byte) (response, error) {
	u := path
	if !strings.HasPrefix(path, "http") {
		u = h.srv.URL + path
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return response{}, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the body: %w", method, u, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (h *harness) mustDo(method, path, token string, header http.Header, body []byte) response {
	h.t.Helper()
	r, err := h.do(method, path, token, header, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// exportRequest is a kick-off.
type exportRequest struct {
	client string // default TestClientID
	group  string // default group-01
	method string // default POST
	prefer string // default respond-async; "-" sends none
	params []bulk.Param
}

// standard returns the parameters every 2.0.0 kick-off needs, plus extra.
func standard(mode string, extra ...bulk.Param) []bulk.Param {
	return append([]bulk.Param{
		{Name: "exportType", Type: "valueCanonical", Value: "hl7.fhir.us.davinci-pdex"},
		{Name: "exportMode", Type: "valueCode", Value: mode},
	}, extra...)
}

func patientParam(id string) bulk.Param {
	return bulk.Param{Name: "patient", Type: "valueReference", Value: "Patient/" + id}
}

func (h *harness) kickoff(r exportRequest) (response, error) {
	if r.client == "" {
		r.client = TestClientID
	}
	if r.group == "" {
		r.group = "group-01"
	}
	c := h.bulk(r.client)
	resp, err := c.StartExport(context.Background(), bulk.Kickoff{Group: r.group, Method: r.method, Params: r.params, Prefer: r.prefer})
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: resp.Body}, nil
}

// export is a finished export: its manifest and every file's lines.
type export struct {
	statusURL string
	status    response
	manifest  *bulk.Manifest
	// resources by type, as exported, from the output files.
	resources map[string][]map[string]any
	// errors are the OperationOutcomes of the error files.
	errors []map[string]any
	files  []exportFile
}

type exportFile struct {
	ref         bulk.ManifestRef
	kind        string // output | error
	contentType string
	lines       [][]byte
}

// runExport kicks off, polls to completion and downloads every file.
func (h *harness) runExport(r exportRequest) (*export, error) {
	if r.client == "" {
		r.client = TestClientID
	}
	k, err := h.kickoff(r)
	if err != nil {
		return nil, err
	}
	if k.status != http.StatusAccepted {
		return nil, fmt.Errorf("kick-off: HTTP %d: %.300s", k.status, k.body)
	}
	loc := k.header.Get("Content-Location")
	if loc == "" {
		return nil, errors.New("kick-off: no Content-Location")
	}
	return h.finish(r.client, loc)
}

// finish polls a status URL to completion and downloads every file.
func (h *harness) finish(client, statusURL string) (*export, error) {
	st, err := h.poll(client, statusURL)
	if err != nil {
		return nil, err
	}
	if st.status != http.StatusOK {
		return nil, fmt.Errorf("status: HTTP %d: %.300s", st.status, st.body)
	}
	m, err := bulk.ParseManifest(st.body)
	if err != nil {
		return nil, err
	}
	ex := &export{statusURL: statusURL, status: st, manifest: m, resources: map[string][]map[string]any{}}
	tok := h.token(client)
	for kind, refs := range map[string][]bulk.ManifestRef{"output": m.Output, "error": m.Error} {
		for _, ref := range refs {
			u := ref.URL
			if !strings.HasPrefix(u, "http") {
				u = h.srv.URL + "/" + strings.TrimPrefix(u, "/")
			}
			fr, err := h.do(http.MethodGet, u, tok, http.Header{"Accept": {"application/fhir+ndjson"}}, nil)
			if err != nil {
				return nil, err
			}
			if fr.status != http.StatusOK {
				return nil, fmt.Errorf("file %s: HTTP %d: %.200s", ref.URL, fr.status, fr.body)
			}
			f := exportFile{ref: ref, kind: kind, contentType: fr.header.Get("Content-Type")}
			sc := bufio.NewScanner(bytes.NewReader(fr.body))
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() {
				line := append([]byte(nil), sc.Bytes()...)
				if len(bytes.TrimSpace(line)) == 0 {
					continue
				}
				f.lines = append(f.lines, line)
				var res map[string]any
				if err := json.Unmarshal(line, &res); err != nil {
					return nil, fmt.Errorf("file %s: a line is not JSON: %v", ref.URL, err)
				}
				if kind == "error" {
					ex.errors = append(ex.errors, res)
					continue
				}
				typ, _ := res["resourceType"].(string)
				ex.resources[typ] = append(ex.resources[typ], res)
			}
			ex.files = append(ex.files, f)
		}
	}
	sort.Slice(ex.files, func(i, j int) bool { return ex.files[i].ref.URL < ex.files[j].ref.URL })
	return ex, nil
}

// poll polls a status URL until it stops answering 202. It ignores the
// server's Retry-After (1 s) to keep the tests fast; the Retry-After itself
// is checked by TestStatusInProgress.
func (h *harness) poll(client, statusURL string) (response, error) {
	tok := h.token(client)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := h.do(http.MethodGet, statusURL, tok, http.Header{"Accept": {"application/json"}}, nil)
		if err != nil {
			return r, err
		}
		if r.status != http.StatusAccepted {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%s still 202 after 30 s (X-Progress %q)", statusURL, r.header.Get("X-Progress"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) mustExport(r exportRequest) *export {
	h.t.Helper()
	ex, err := h.runExport(r)
	if err != nil {
		h.t.Fatal(err)
	}
	return ex
}

// keys returns the "Type/id" of every exported resource, sorted.
func (ex *export) keys() []string {
	var out []string
	for typ, rs := range ex.resources {
		for _, r := range rs {
			out = append(out, typ+"/"+r["id"].(string))
		}
	}
	slices.Sort(out)
	return out
}

// compartments returns the patients whose compartment resources appear in
// the output (shared resources excluded).
func (ex *export) compartments(d *fixtures.Dataset) map[string]bool {
	owner := map[string]string{}
	for _, r := range d.Resources {
		owner[r.Type+"/"+r.ID] = r.PatientID
	}
	out := map[string]bool{}
	for _, k := range ex.keys() {
		if p := owner[k]; p != "" {
			out[p] = true
		}
	}
	return out
}

// ---- Expectations computed from the fixture data, independently of the
// server's code.

// selection describes what an export should hold.
type selection struct {
	group    string
	patients []string // nil: every member
	types    []string // nil: every exportable type
	since    *time.Time
	until    *time.Time
	// keep, when set, filters compartment resources (a _typeFilter).
	keep func(typ string, res map[string]any) bool
}

// exportedTypes are the types a full export holds: everything the payer
// stores except Group and Consent (the opt-out record is not clinical
// data of the member and not in scope).
func exportedTypes(d *fixtures.Dataset) []string {
	var out []string
	for typ := range d.Count() {
		if typ != "Group" && typ != "Consent" {
			out = append(out, typ)
		}
	}
	slices.Sort(out)
	return out
}

func groupInfo(t testing.TB, d *fixtures.Dataset, id string) fixtures.GroupInfo {
	t.Helper()
	gs, err := d.Groups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.ID == id {
			return g
		}
	}
	t.Fatalf("no Group %s in the data set", id)
	return fixtures.GroupInfo{}
}

func optedOut(t testing.TB, d *fixtures.Dataset) map[string]bool {
	t.Helper()
	ids, err := d.OptedOut()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// expected returns the sorted "Type/id" keys an export should hold.
func expected(t testing.TB, d *fixtures.Dataset, s selection) []string {
	t.Helper()
	g := groupInfo(t, d, s.group)
	opted := optedOut(t, d)
	patients := map[string]bool{}
	for _, m := range g.Members {
		if opted[m] {
			continue
		}
		if s.patients == nil || slices.Contains(s.patients, m) {
			patients[m] = true
		}
	}
	types := s.types
	if types == nil {
		types = exportedTypes(d)
	}
	inWindow := func(r fixtures.Resource) bool {
		if s.since != nil && r.LastUpdated.Before(*s.since) {
			return false
		}
		if s.until != nil && r.LastUpdated.After(*s.until) {
			return false
		}
		return true
	}
	referenced := map[string]bool{}
	var out []string
	for _, r := range d.Resources {
		if r.PatientID == "" || !patients[r.PatientID] {
			continue
		}
		var res map[string]any
		if err := json.Unmarshal(r.JSON, &res); err != nil {
			t.Fatal(err)
		}
		for _, ref := range references(res) {
			referenced[ref] = true
		}
		if r.Type == "Consent" || !slices.Contains(types, r.Type) || !inWindow(r) {
			continue
		}
		if s.keep != nil && !s.keep(r.Type, res) {
			continue
		}
		out = append(out, r.Type+"/"+r.ID)
	}
	for _, r := range d.Resources {
		if r.PatientID != "" || r.Type == "Group" {
			continue
		}
		k := r.Type + "/" + r.ID
		if referenced[k] && slices.Contains(types, r.Type) && inWindow(r) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// references collects every "reference" string in a decoded resource.
func references(v any) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if s, ok := e.(string); ok && k == "reference" {
				out = append(out, s)
				continue
			}
			out = append(out, references(e)...)
		}
	case []any:
		for _, e := range t {
			out = append(out, references(e)...)
		}
	}
	return out
}

// stored returns the stored (fixture) form of a resource.
func stored(t testing.TB, d *fixtures.Dataset, typ, id string) map[string]any {
	t.Helper()
	for _, r := range d.Resources {
		if r.Type == typ && r.ID == id {
			var res map[string]any
			if err := json.Unmarshal(r.JSON, &res); err != nil {
				t.Fatal(err)
			}
			return res
		}
	}
	t.Fatalf("%s/%s is not in the data set", typ, id)
	return nil
}

// diff describes how two sorted key lists differ, or returns "".
func diff(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	trim := func(xs []string) []string {
		if len(xs) > 8 {
			return append(xs[:8:8], fmt.Sprintf("... (%d in all)", len(xs)))
		}
		return xs
	}
	return fmt.Sprintf("missing %v; unexpected %v (got %d, want %d)", trim(missing), trim(extra), len(got), len(want))
}

// lastDownloads returns the values of the last-download extension on a
// decoded Patient.
func lastDownloads(p map[string]any) []string {
	var out []string
	exts, _ := p["extension"].([]any)
	for _, e := range exts {
		m, _ := e.(map[string]any)
		if m["url"] == LastTransmissionURL {
			v, _ := m["valueDateTime"].(string)
			out = append(out, v)
		}
	}
	return out
}

// readResource reads Type/id through the API as a client.
func (h *harness) readResource(client, typ, id string) (map[string]any, error) {
	r, err := h.do(http.MethodGet, "/"+typ+"/"+url.PathEscape(id), h.token(client), nil, nil)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s/%s: HTTP %d: %.200s", typ, id, r.status, r.body)
	}
	var res map[string]any
	if err := json.Unmarshal(r.body, &res); err != nil {
		return nil, fmt.Errorf("GET %s/%s: %v", typ, id, err)
	}
	return res, nil
}

// fixtureFacts are member ids the tests pick from the data set.
type fixtureFacts struct {
	// member is a member of group-01 who has not opted out.
	member string
	// second is another such member.
	second string
	// withEarlier is a third such member, whose Patient already carries a
	// last-download value.
	withEarlier string
	// optedOut is an opted-out member of group-01.
	optedOut string
	// nonMember is a stored patient who is in no Group at all.
	nonMember string
	// onlyFirst is a member of group-01 who is not in the last Group.
	onlyFirst string
}

func facts(t testing.TB, d *fixtures.Dataset) fixtureFacts {
	t.Helper()
	g1 := groupInfo(t, d, "group-01")
	gs, err := d.Groups()
	if err != nil {
		t.Fatal(err)
	}
	last := gs[len(gs)-1]
	inAny := map[string]bool{}
	for _, g := range gs {
		for _, m := range g.Members {
			inAny[m] = true
		}
	}
	opted := optedOut(t, d)
	var f fixtureFacts
	for _, m := range g1.Members {
		if opted[m] {
			if f.optedOut == "" {
				f.optedOut = m
			}
			continue
		}
		if f.onlyFirst == "" && !slices.Contains(last.Members, m) {
			f.onlyFirst = m
		}
		switch {
		case f.withEarlier == "" && len(lastDownloads(stored(t, d, "Patient", m))) > 0:
			f.withEarlier = m
		case f.member == "":
			f.member = m
		case f.second == "":
			f.second = m
		}
	}
	for _, r := range d.Resources {
		if r.Type == "Patient" && !inAny[r.ID] {
			f.nonMember = r.ID
			break
		}
	}
	if f.member == "" || f.second == "" || f.withEarlier == "" || f.optedOut == "" || f.nonMember == "" || f.onlyFirst == "" {
		t.Fatalf("the data set lacks a needed kind of member: %+v", f)
	}
	return f
}

// financialPaths lists the financial elements (SPEC §5: remittance and
// cost-sharing) present in a decoded EOB, as paths.
func financialPaths(eob map[string]any) []string {
	var out []string
	if _, ok := eob["total"]; ok {
		out = append(out, "total")
	}
	if pay, ok := eob["payment"].(map[string]any); ok {
		if _, ok := pay["amount"]; ok {
			out = append(out, "payment.amount")
		}
	}
	for i, bb := range asList(eob["benefitBalance"]) {
		if m, ok := bb.(map[string]any); ok {
			if _, ok := m["financial"]; ok {
				out = append(out, fmt.Sprintf("benefitBalance[%d].financial", i))
			}
		}
	}
	out = append(out, adjudicationAmounts("adjudication", eob["adjudication"])...)
	var lines func(path string, v any)
	lines = func(path string, v any) {
		for i, l := range asList(v) {
			m, ok := l.(map[string]any)
			if !ok {
				continue
			}
			p := fmt.Sprintf("%s[%d]", path, i)
			for _, k := range []string{"net", "unitPrice"} {
				if _, ok := m[k]; ok {
					out = append(out, p+"."+k)
				}
			}
			out = append(out, adjudicationAmounts(p+".adjudication", m["adjudication"])...)
			lines(p+".detail", m["detail"])
			lines(p+".subDetail", m["subDetail"])
		}
	}
	lines("item", eob["item"])
	lines("addItem", eob["addItem"])
	return out
}

func adjudicationAmounts(path string, v any) []string {
	var out []string
	for i, a := range asList(v) {
		if m, ok := a.(map[string]any); ok {
			if _, ok := m["amount"]; ok {
				out = append(out, fmt.Sprintf("%s[%d].amount", path, i))
			}
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
