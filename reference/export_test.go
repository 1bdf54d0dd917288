package reference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// TestStatusInProgress: while a job runs the status URL answers 202 with
// X-Progress and Retry-After.
func TestStatusInProgress(t *testing.T) {
	h := startServer(t, Options{})
	h.hold()
	k, err := h.kickoff(exportRequest{params: standard("snapshot")})
	if err != nil || k.status != http.StatusAccepted {
		t.Fatalf("kick-off: %v %d", err, k.status)
	}
	loc := k.header.Get("Content-Location")
	for i := range 3 {
		r := h.mustDo(http.MethodGet, loc, h.token(TestClientID), http.Header{"Accept": {"application/json"}}, nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("poll %d: HTTP %d, want 202", i, r.status)
		}
		if p := r.header.Get("X-Progress"); p == "" || len(p) >= 100 {
			t.Errorf("X-Progress %q: want a value under 100 characters", p)
		}
		if d, ok := bulk.RetryAfter(r.header.Get("Retry-After"), time.Now()); !ok || d <= 0 {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	h.unhold()
	if st, err := h.poll(TestClientID, loc); err != nil || st.status != http.StatusOK {
		t.Fatalf("after release: %v HTTP %d", err, st.status)
	}
}

// TestManifestAndFiles: the completed export's manifest, headers and files.
func TestManifestAndFiles(t *testing.T) {
	h := startServer(t, Options{FileTTL: 30 * time.Minute})
	before := time.Now().Add(-time.Second)
	ex := h.mustExport(exportRequest{params: standard("snapshot")})
	after := time.Now().Add(time.Second)
	var raw map[string]any
	if err := json.Unmarshal(ex.status.body, &raw); err != nil {
		t.Fatal(err)
	}
	if ct := ex.status.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("status Content-Type %q, want application/json", ct)
	}
	for _, field := range []string{"transactionTime", "request", "requiresAccessToken", "output", "error"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("manifest lacks %s", field)
		}
	}
	tt, err := time.Parse(time.RFC3339Nano, ex.manifest.TransactionTime)
	if err != nil || tt.Before(before) || tt.After(after) {
		t.Errorf("transactionTime %q (%v) not between kick-off and completion", ex.manifest.TransactionTime, err)
	}
	if ex.manifest.Request != h.srv.URL+"/Group/group-01/$davinci-data-export" {
		t.Errorf("request %q", ex.manifest.Request)
	}
	if ex.manifest.RequiresAccessToken == nil || !*ex.manifest.RequiresAccessToken {
		t.Error("requiresAccessToken is not true")
	}
	exp, err := http.ParseTime(ex.status.header.Get("Expires"))
	if err != nil {
		t.Errorf("Expires %q: %v", ex.status.header.Get("Expires"), err)
	} else if d := time.Until(exp); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("Expires %v is not FileTTL (30 min) ahead", exp)
	}
	if len(ex.manifest.Output) == 0 {
		t.Fatal("no output files")
	}
	seen := map[string]bool{}
	for _, f := range ex.files {
		if !strings.HasPrefix(f.ref.URL, h.srv.URL+"/files/") {
			t.Errorf("file URL %q is not absolute under the server", f.ref.URL)
		}
		// 128 random bits, hex: the URL cannot be guessed.
		if id := strings.TrimPrefix(f.ref.URL, h.srv.URL+"/files/"); len(id) < 32 {
			t.Errorf("file id %q is shorter than 128 bits", id)
		}
		if f.contentType != "application/fhir+ndjson" {
			t.Errorf("%s: Content-Type %q", f.ref.URL, f.contentType)
		}
		if f.ref.Count == nil || *f.ref.Count != len(f.lines) {
			t.Errorf("%s: count %v, %d lines", f.ref.URL, f.ref.Count, len(f.lines))
		}
		for i, l := range f.lines {
			var res struct {
				ResourceType string `json:"resourceType"`
			}
			json.Unmarshal(l, &res)
			want := f.ref.Type
			if f.kind == "error" {
				want = "OperationOutcome"
			}
			if res.ResourceType != want {
				t.Errorf("%s line %d: a %s in a %s file", f.ref.URL, i+1, res.ResourceType, want)
				break
			}
		}
		if f.kind == "output" {
			if seen[f.ref.Type] {
				t.Errorf("two output files for %s in a small export", f.ref.Type)
			}
			seen[f.ref.Type] = true
		}
	}
	if len(ex.manifest.Error) != 0 {
		t.Errorf("a clean full export has error files: %+v", ex.manifest.Error)
	}
	// Latest version only: no resource twice.
	keys := ex.keys()
	if c := slices.Compact(slices.Clone(keys)); len(c) != len(keys) {
		t.Errorf("%d resources exported more than once", len(keys)-len(c))
	}
}

// TestFileAccess: files need the token of the client that started the job.
func TestFileAccess(t *testing.T) {
	h := startServer(t, Options{})
	ex := h.mustExport(exportRequest{group: "group-02", params: standard("snapshot")})
	url := ex.manifest.Output[0].URL
	other := h.token(OtherClientID) // entitled to group-02 too, but not its job
	cases := []struct {
		name  string
		token string
		want  int
	}{
		{"owner", h.token(TestClientID), 200},
		{"no token", "", 401},
		{"bad token", "nonsense", 401},
		{"another client", other, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.mustDo(http.MethodGet, url, c.token, nil, nil)
			if r.status != c.want {
				t.Fatalf("HTTP %d, want %d", r.status, c.want)
			}
		})
	}
	t.Run("another client's status and cancel", func(t *testing.T) {
		if r := h.mustDo(http.MethodGet, ex.statusURL, other, nil, nil); r.status != 404 {
			t.Errorf("status: HTTP %d, want 404", r.status)
		}
		if r := h.mustDo(http.MethodDelete, ex.statusURL, other, nil, nil); r.status != 404 {
			t.Errorf("DELETE: HTTP %d, want 404", r.status)
		}
		if r := h.mustDo(http.MethodGet, ex.statusURL, h.token(TestClientID), nil, nil); r.status != 200 {
			t.Errorf("the owner's status after another client's DELETE: HTTP %d, want 200", r.status)
		}
	})
	t.Run("guessed file id", func(t *testing.T) {
		if r := h.mustDo(http.MethodGet, h.srv.URL+"/files/00000000000000000000000000000000", h.token(TestClientID), nil, nil); r.status != 404 {
			t.Errorf("HTTP %d, want 404", r.status)
		}
	})
}

// TestCancel: DELETE answers 202, then the status URL and files are gone.
func TestCancel(t *testing.T) {
	h := startServer(t, Options{})
	tok := h.token(TestClientID)
	t.Run("running job", func(t *testing.T) {
		h.hold()
		defer h.unhold()
		k, err := h.kickoff(exportRequest{params: standard("snapshot")})
		if err != nil || k.status != 202 {
			t.Fatalf("kick-off: %v %d", err, k.status)
		}
		loc := k.header.Get("Content-Location")
		if r := h.mustDo(http.MethodDelete, loc, tok, nil, nil); r.status != http.StatusAccepted {
			t.Fatalf("DELETE: HTTP %d, want 202", r.status)
		}
		r := h.mustDo(http.MethodGet, loc, tok, nil, nil)
		if r.status != http.StatusNotFound {
			t.Fatalf("status after DELETE: HTTP %d, want 404", r.status)
		}
		if _, err := r.outcome(); err != nil {
			t.Error(err)
		}
		if r := h.mustDo(http.MethodDelete, loc, tok, nil, nil); r.status != http.StatusNotFound {
			t.Errorf("second DELETE: HTTP %d, want 404", r.status)
		}
	})
	t.Run("complete job", func(t *testing.T) {
		ex := h.mustExport(exportRequest{params: standard("snapshot", patientParam(facts(t, testData(t)).member))})
		if r := h.mustDo(http.MethodDelete, ex.statusURL, tok, nil, nil); r.status != http.StatusAccepted {
			t.Fatalf("DELETE: HTTP %d", r.status)
		}
		if r := h.mustDo(http.MethodGet, ex.statusURL, tok, nil, nil); r.status != http.StatusNotFound {
			t.Errorf("status after DELETE: HTTP %d, want 404", r.status)
		}
		for _, f := range ex.manifest.Output {
			if r := h.mustDo(http.MethodGet, f.URL, tok, nil, nil); r.status != http.StatusNotFound {
				t.Errorf("file after DELETE: HTTP %d, want 404", r.status)
			}
		}
		var chunks int
		h.srv.store.db.QueryRow(`SELECT count(*) FROM file_chunks WHERE job = ?`, strings.TrimPrefix(ex.statusURL, h.srv.URL+"/jobs/")).Scan(&chunks)
		if chunks != 0 {
			t.Errorf("%d chunks of the cancelled job remain in the database", chunks)
		}
	})
}

// TestFileExpiry: file URLs and the status URL die with the job after
// FileTTL (clock injected).
func TestFileExpiry(t *testing.T) {
	clock := newTestClock()
	h := startServer(t, Options{Now: clock.Now, FileTTL: time.Minute})
	ex := h.mustExport(exportRequest{params: standard("snapshot", patientParam(facts(t, testData(t)).member))})
	tok := h.token(TestClientID)
	exp, err := http.ParseTime(ex.status.header.Get("Expires"))
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(clock.Now()); d <= 0 || d > time.Minute+time.Second {
		t.Errorf("Expires is %v ahead, want at most FileTTL (1 min)", d)
	}
	url := ex.manifest.Output[0].URL
	clock.Advance(50 * time.Second)
	if r := h.mustDo(http.MethodGet, url, tok, nil, nil); r.status != 200 {
		t.Fatalf("file before expiry: HTTP %d", r.status)
	}
	clock.Advance(15 * time.Second)
	if r := h.mustDo(http.MethodGet, url, tok, nil, nil); r.status != 404 {
		t.Errorf("file after expiry: HTTP %d, want 404", r.status)
	}
	if r := h.mustDo(http.MethodGet, ex.statusURL, tok, nil, nil); r.status != 404 {
		t.Errorf("status after expiry: HTTP %d, want 404", r.status)
	}
	// The sweep removes the job and its chunks from the database too.
	h.srv.expire(t.Context())
	var n int
	h.srv.store.db.QueryRow(`SELECT count(*) FROM file_chunks`).Scan(&n)
	if n != 0 {
		t.Errorf("%d file chunks remain after the sweep", n)
	}
}

// TestExportSelection compares what each kind of request exports with what
// the fixture data says it must hold.
func TestExportSelection(t *testing.T) {
	h := startServer(t, Options{})
	d := testData(t)
	f := facts(t, d)
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	isLab := func(typ string, res map[string]any) bool {
		if typ != "Observation" {
			return true
		}
		return strings.Contains(fmt.Sprint(res["category"]), "laboratory")
	}
	effectiveOnOrAfter := func(day string) func(string, map[string]any) bool {
		return func(typ string, res map[string]any) bool {
			if typ != "Observation" {
				return true
			}
			e, _ := res["effectiveDateTime"].(string)
			return e >= day
		}
	}
	cases := []struct {
		name   string
		group  string
		params []bulk.Param
		want   selection
	}{
		{"all members of group-01", "group-01", nil, selection{}},
		{"all members of group-02", "group-02", nil, selection{group: "group-02"}},
		{"two members", "group-01", []bulk.Param{patientParam(f.member), patientParam(f.second)},
			selection{patients: []string{f.member, f.second}}},
		{"opted-out member asked for by name", "group-01", []bulk.Param{patientParam(f.optedOut), patientParam(f.member)},
			selection{patients: []string{f.member}}},
		{"only the opted-out member", "group-01", []bulk.Param{patientParam(f.optedOut)},
			selection{patients: []string{}}},
		{"non-member ignored", "group-01", []bulk.Param{patientParam(f.member), patientParam(f.nonMember)},
			selection{patients: []string{f.member}}},
		{"_type", "group-01", []bulk.Param{p("_type", "valueString", "Condition,Observation")},
			selection{types: []string{"Condition", "Observation"}}},
		{"_type shared", "group-01", []bulk.Param{p("_type", "valueString", "Organization,Practitioner")},
			selection{types: []string{"Organization", "Practitioner"}}},
		{"_type ExplanationOfBenefit for one member", "group-01", []bulk.Param{patientParam(f.member), p("_type", "valueString", "ExplanationOfBenefit")},
			selection{patients: []string{f.member}, types: []string{"ExplanationOfBenefit"}}},
		{"_typeFilter laboratory", "group-01", []bulk.Param{p("_type", "valueString", "Observation,Condition"), p("_typeFilter", "valueString", "Observation?category=laboratory")},
			selection{types: []string{"Observation", "Condition"}, keep: isLab}},
		{"_typeFilter laboratory with system", "group-01", []bulk.Param{p("_type", "valueString", "Observation"), p("_typeFilter", "valueString", "Observation?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory")},
			selection{types: []string{"Observation"}, keep: isLab}},
		{"_typeFilter date", "group-01", []bulk.Param{p("_type", "valueString", "Observation"), p("_typeFilter", "valueString", "Observation?date=ge2025-01-01")},
			selection{types: []string{"Observation"}, keep: effectiveOnOrAfter("2025-01-01")}},
		{"_typeFilter two queries are alternatives", "group-01", []bulk.Param{p("_type", "valueString", "Observation"),
			p("_typeFilter", "valueString", "Observation?category=laboratory,Observation?date=ge2025-01-01")},
			selection{types: []string{"Observation"}, keep: func(typ string, res map[string]any) bool {
				return isLab(typ, res) || effectiveOnOrAfter("2025-01-01")(typ, res)
			}}},
		{"_typeFilter lab and date together", "group-01", []bulk.Param{p("_typeFilter", "valueString", "Observation?category=laboratory&date=ge2025-01-01")},
			selection{keep: func(typ string, res map[string]any) bool {
				return isLab(typ, res) && effectiveOnOrAfter("2025-01-01")(typ, res)
			}}},
		{"_since", "group-01", []bulk.Param{p("_since", "valueInstant", "2025-03-01T00:00:00Z")},
			selection{since: at("2025-03-01T00:00:00Z")}},
		{"_until", "group-01", []bulk.Param{p("_until", "valueInstant", "2023-06-01T00:00:00Z")},
			selection{until: at("2023-06-01T00:00:00Z")}},
		{"_since and _until with offset", "group-01", []bulk.Param{p("_since", "valueInstant", "2024-01-01T02:00:00+02:00"), p("_until", "valueInstant", "2024-07-01T00:00:00Z")},
			selection{since: at("2024-01-01T00:00:00Z"), until: at("2024-07-01T00:00:00Z")}},
		{"new lab results of a member since a date", "group-01", []bulk.Param{patientParam(f.member), p("_type", "valueString", "Observation"),
			p("_typeFilter", "valueString", "Observation?category=laboratory"), p("_since", "valueInstant", "2024-01-01T00:00:00Z")},
			selection{patients: []string{f.member}, types: []string{"Observation"}, keep: isLab, since: at("2024-01-01T00:00:00Z")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want.group == "" {
				want.group = c.group
			}
			ex := h.mustExport(exportRequest{group: c.group, params: standard("snapshot", c.params...)})
			exp := expected(t, d, want)
			if d := diff(ex.keys(), exp); d != "" {
				t.Fatalf("export differs from the fixture data: %s", d)
			}
			if len(exp) == 0 && want.patients == nil {
				t.Fatal("the case selects nothing, so it proves nothing")
			}
			if want.types != nil || want.keep != nil || want.since != nil || want.until != nil {
				all := expected(t, d, selection{group: want.group, patients: want.patients})
				if len(exp) == 0 || len(exp) >= len(all) {
					t.Fatalf("the filter selects %d of %d resources: not a real subset", len(exp), len(all))
				}
			}
			// Every exported resource other than a claim EOB is the stored
			// resource unchanged.
			for typ, rs := range ex.resources {
				for _, res := range rs {
					if typ == "ExplanationOfBenefit" && res["use"] == "claim" {
						continue
					}
					if st := stored(t, d, typ, res["id"].(string)); !jsonEqual(st, res) {
						t.Errorf("%s/%s differs from its stored form", typ, res["id"])
					}
				}
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestNonMemberReported: a patient reference that is not a member of the
// Group is ignored and reported by an OperationOutcome in an error file.
func TestNonMemberReported(t *testing.T) {
	h := startServer(t, Options{})
	f := facts(t, testData(t))
	ex := h.mustExport(exportRequest{params: standard("snapshot", patientParam(f.member), patientParam(f.nonMember),
		p("patient", "valueReference", "Organization/org-payer"))})
	if len(ex.manifest.Error) == 0 {
		t.Fatal("no error file")
	}
	all := fmt.Sprint(ex.errors)
	for _, want := range []string{"Patient/" + f.nonMember, "Organization/org-payer"} {
		if !strings.Contains(all, want) {
			t.Errorf("no OperationOutcome mentions %s: %s", want, all)
		}
	}
	if strings.Contains(all, "Patient/"+f.member+" ") {
		t.Errorf("the member is reported as ignored: %s", all)
	}
	if c := ex.compartments(testData(t)); len(c) != 1 || !c[f.member] {
		t.Errorf("exported compartments %v, want only %s", c, f.member)
	}
}

// TestNonFinancialEOBs: claim EOBs lose every financial element and name
// the NonFinancial profile; prior-authorization EOBs keep their amounts.
func TestNonFinancialEOBs(t *testing.T) {
	h := startServer(t, Options{})
	d := testData(t)
	ex := h.mustExport(exportRequest{params: standard("snapshot", p("_type", "valueString", "ExplanationOfBenefit"))})
	var claims, priors int
	types := map[string]bool{}
	for _, eob := range ex.resources["ExplanationOfBenefit"] {
		id := eob["id"].(string)
		st := stored(t, d, "ExplanationOfBenefit", id)
		profiles := fmt.Sprint(eob["meta"].(map[string]any)["profile"])
		switch eob["use"] {
		case "claim":
			claims++
			if len(financialPaths(st)) == 0 {
				t.Fatalf("stored claim %s has no financial detail: the test proves nothing", id)
			}
			if fin := financialPaths(eob); len(fin) > 0 {
				t.Errorf("claim %s exported with %v", id, fin)
			}
			if !strings.Contains(profiles, "-NonFinancial") {
				t.Errorf("claim %s meta.profile %s names no NonFinancial profile", id, profiles)
			}
			types[profiles] = true
			// Nothing but the financial detail (and the profile) changed.
			if len(eob["item"].([]any)) != len(st["item"].([]any)) || eob["status"] != st["status"] || fmt.Sprint(eob["diagnosis"]) != fmt.Sprint(st["diagnosis"]) {
				t.Errorf("claim %s lost non-financial content", id)
			}
		case "preauthorization":
			priors++
			if !jsonEqual(eob, st) {
				t.Errorf("prior authorization %s was changed", id)
			}
			if len(financialPaths(eob)) == 0 {
				t.Errorf("prior authorization %s has no amounts", id)
			}
		default:
			t.Errorf("EOB %s has use %v", id, eob["use"])
		}
	}
	if claims == 0 || priors == 0 {
		t.Fatalf("%d claims and %d prior authorizations exported", claims, priors)
	}
	if len(types) != 5 {
		t.Errorf("claims of %d NonFinancial profiles, want all five CARIN types: %v", len(types), types)
	}
}

// TestLastDownload: download records the transaction time on each exported
// member's Patient, replacing an earlier value; snapshot changes nothing;
// members not exported are untouched.
func TestLastDownload(t *testing.T) {
	h := startServer(t, Options{})
	d := testData(t)
	f := facts(t, d)
	read := func(id string) map[string]any {
		t.Helper()
		res, err := h.readResource(TestClientID, "Patient", id)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	g1 := groupInfo(t, d, "group-01")
	opted := optedOut(t, d)
	untouched := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if got := read(id); !jsonEqual(got, stored(t, d, "Patient", id)) {
				t.Errorf("Patient/%s changed: extension %v", id, got["extension"])
			}
		}
	}
	if len(lastDownloads(stored(t, d, "Patient", f.withEarlier))) != 1 {
		t.Fatal("the fixture member has no earlier value")
	}

	t.Run("snapshot leaves it alone", func(t *testing.T) {
		h.mustExport(exportRequest{params: standard("snapshot")})
		var members []string
		for _, m := range g1.Members {
			if !opted[m] {
				members = append(members, m)
			}
		}
		untouched(members...)
	})
	t.Run("download sets it on the exported members", func(t *testing.T) {
		ex := h.mustExport(exportRequest{params: standard("download", patientParam(f.member), patientParam(f.withEarlier))})
		tt, err := time.Parse(time.RFC3339Nano, ex.manifest.TransactionTime)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{f.member, f.withEarlier} {
			got := lastDownloads(read(id))
			if len(got) != 1 {
				t.Fatalf("Patient/%s has %d last-download values %v, want exactly 1", id, len(got), got)
			}
			v, err := time.Parse(time.RFC3339Nano, got[0])
			if err != nil || !v.Equal(tt) {
				t.Errorf("Patient/%s last download %q, want the transaction time %s", id, got[0], ex.manifest.TransactionTime)
			}
		}
		// The second member, not asked for, and the other Group's members
		// are untouched.
		untouched(f.second)
	})
	t.Run("a later download replaces it", func(t *testing.T) {
		first := lastDownloads(read(f.member))
		time.Sleep(5 * time.Millisecond)
		ex := h.mustExport(exportRequest{params: standard("download", patientParam(f.member))})
		got := lastDownloads(read(f.member))
		if len(got) != 1 || got[0] == first[0] {
			t.Fatalf("after a second download: %v (first %v)", got, first)
		}
		tt, _ := time.Parse(time.RFC3339Nano, ex.manifest.TransactionTime)
		if v, _ := time.Parse(time.RFC3339Nano, got[0]); !v.Equal(tt) {
			t.Errorf("last download %s, want %s", got[0], ex.manifest.TransactionTime)
		}
	})
	t.Run("opted-out members are not recorded", func(t *testing.T) {
		h.mustExport(exportRequest{params: standard("download", patientParam(f.optedOut))})
		var p map[string]any
		raw, err := h.srv.store.read(t.Context(), "Patient", f.optedOut)
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(raw, &p)
		if !jsonEqual(p, stored(t, d, "Patient", f.optedOut)) {
			t.Errorf("the opted-out member's Patient changed: %v", p["extension"])
		}
	})
}
