package reference

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

func p(name, typ, value string) bulk.Param { return bulk.Param{Name: name, Type: typ, Value: value} }

// TestKickoffValidation: what a kick-off must carry, by POST and GET.
func TestKickoffValidation(t *testing.T) {
	h := startServer(t, Options{MaxJobsPerClient: 100})
	exportType := p("exportType", "valueCanonical", "hl7.fhir.us.davinci-pdex")
	snapshot := p("exportMode", "valueCode", "snapshot")
	cases := []struct {
		name   string
		method string
		prefer string
		params []bulk.Param
		want   int
		// text must appear in the OperationOutcome of a refusal.
		text string
	}{
		{"POST snapshot", "POST", "", standard("snapshot"), 202, ""},
		{"POST download", "POST", "", standard("download"), 202, ""},
		{"GET snapshot", "GET", "", standard("snapshot"), 202, ""},
		{"exportType missing", "POST", "", []bulk.Param{snapshot}, 400, "exportType"},
		{"exportType wrong", "POST", "", []bulk.Param{p("exportType", "valueCanonical", "hl7.fhir.us.davinci-pdex#provider-download"), snapshot}, 400, "exportType"},
		{"exportType GET wrong", "GET", "", []bulk.Param{p("exportType", "", "hl7.fhir.us.davinci-atr"), snapshot}, 400, "exportType"},
		{"exportMode missing", "POST", "", []bulk.Param{exportType}, 400, "exportMode"},
		{"exportMode invalid", "POST", "", []bulk.Param{exportType, p("exportMode", "valueCode", "delta")}, 400, "exportMode"},
		{"exportMode twice", "POST", "", append(standard("snapshot"), p("exportMode", "valueCode", "download")), 400, "exportMode"},
		{"_type known", "POST", "", standard("snapshot", p("_type", "valueString", "Patient,Observation")), 202, ""},
		{"_type unknown", "POST", "", standard("snapshot", p("_type", "valueString", "Patient,Spaceship")), 400, "Spaceship"},
		{"_type empty", "POST", "", standard("snapshot", p("_type", "valueString", "")), 400, "_type"},
		{"_since instant", "POST", "", standard("snapshot", p("_since", "valueInstant", "2024-06-01T00:00:00Z")), 202, ""},
		{"_since with offset", "GET", "", standard("snapshot", p("_since", "", "2024-06-01T00:00:00.123+02:00")), 202, ""},
		{"_since date only", "POST", "", standard("snapshot", p("_since", "valueInstant", "2024-06-01")), 400, "_since"},
		{"_since no zone", "POST", "", standard("snapshot", p("_since", "valueInstant", "2024-06-01T00:00:00")), 400, "_since"},
		{"_since month 13", "POST", "", standard("snapshot", p("_since", "valueInstant", "2024-13-01T00:00:00Z")), 400, "_since"},
		{"_since words", "GET", "", standard("snapshot", p("_since", "", "yesterday")), 400, "_since"},
		{"_until before _since", "POST", "", standard("snapshot", p("_since", "valueInstant", "2025-01-01T00:00:00Z"), p("_until", "valueInstant", "2024-01-01T00:00:00Z")), 400, "_until"},
		{"_until bad", "POST", "", standard("snapshot", p("_until", "valueInstant", "2025-02-30T00:00:00Z")), 400, "_until"},
		{"_since as integer", "POST", "", standard("snapshot", p("_since", "valueInteger", "5")), 400, "_since"},
		{"patient as string", "POST", "", standard("snapshot", p("patient", "valueString", "Patient/pat-0003")), 400, "patient"},
		{"_typeFilter good", "POST", "", standard("snapshot", p("_typeFilter", "valueString", "Observation?category=laboratory")), 202, ""},
		{"_typeFilter unsupported parameter", "POST", "", standard("snapshot", p("_typeFilter", "valueString", "Observation?colour=blue")), 400, "colour"},
		{"_typeFilter no query", "POST", "", standard("snapshot", p("_typeFilter", "valueString", "Observation")), 400, "_typeFilter"},
		{"_typeFilter bad date", "POST", "", standard("snapshot", p("_typeFilter", "valueString", "Observation?date=ge2024-99")), 400, "date"},
		{"_typeFilter modifier", "POST", "", standard("snapshot", p("_typeFilter", "valueString", "Observation?code:text=glucose")), 400, "modifier"},
		{"unsupported parameter", "POST", "", standard("snapshot", p("_elements", "valueString", "id")), 400, "_elements"},
		{"unsupported parameter GET", "GET", "", standard("snapshot", p("includeAssociatedData", "", "LatestProvenanceResources")), 400, "includeAssociatedData"},
		{"Prefer missing", "POST", "-", standard("snapshot"), 400, "Prefer"},
		{"Prefer other", "POST", "return=minimal", standard("snapshot"), 400, "Prefer"},
		{"Prefer async and lenient", "POST", "respond-async, handling=lenient", standard("snapshot"), 202, ""},
		{"Prefer missing GET", "GET", "-", standard("snapshot"), 400, "Prefer"},
	}
	for _, f := range []string{"application/fhir+ndjson", "application/ndjson", "ndjson"} {
		cases = append(cases, struct {
			name, method, prefer string
			params               []bulk.Param
			want                 int
			text                 string
		}{"_outputFormat " + f, "POST", "", standard("snapshot", p("_outputFormat", "valueString", f)), 202, ""})
	}
	for _, f := range []string{"application/fhir+json", "text/csv", "application/x-ndjson", "NDJSON"} {
		cases = append(cases, struct {
			name, method, prefer string
			params               []bulk.Param
			want                 int
			text                 string
		}{"_outputFormat " + f, "POST", "", standard("snapshot", p("_outputFormat", "valueString", f)), 400, "_outputFormat"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := h.kickoff(exportRequest{method: c.method, prefer: c.prefer, params: c.params})
			if err != nil {
				t.Fatal(err)
			}
			if r.status != c.want {
				t.Fatalf("HTTP %d, want %d: %.300s", r.status, c.want, r.body)
			}
			if c.want == http.StatusAccepted {
				loc := r.header.Get("Content-Location")
				if !strings.HasPrefix(loc, h.srv.URL+"/jobs/") {
					t.Errorf("Content-Location %q is not an absolute status URL", loc)
				}
				return
			}
			oo, err := r.outcome()
			if err != nil {
				t.Fatal(err)
			}
			if diag := fmt.Sprint(oo["issue"]); !strings.Contains(diag, c.text) {
				t.Errorf("the OperationOutcome does not mention %q: %s", c.text, diag)
			}
		})
	}
}

// TestKickoffGETRunsSameExport: a GET kick-off selects what the POST one
// does, with several patients comma-separated.
func TestKickoffGETRunsSameExport(t *testing.T) {
	h := startServer(t, Options{})
	f := facts(t, testData(t))
	params := standard("snapshot", patientParam(f.member), patientParam(f.second), p("_type", "valueString", "Patient,Condition"))
	post := h.mustExport(exportRequest{params: params})
	getParams := standard("snapshot", p("patient", "", "Patient/"+f.member+",Patient/"+f.second), p("_type", "", "Patient,Condition"))
	get := h.mustExport(exportRequest{method: "GET", params: getParams})
	if d := diff(get.keys(), post.keys()); d != "" {
		t.Errorf("GET and POST kick-offs differ: %s", d)
	}
	if len(post.keys()) == 0 {
		t.Error("the export is empty")
	}
	if !strings.Contains(get.manifest.Request, "_type=") {
		t.Errorf("manifest request %q is not the GET kick-off URL", get.manifest.Request)
	}
}

// TestLenientUnsupportedParameter: with Prefer: handling=lenient an
// unsupported parameter is ignored and reported in an error file.
func TestLenientUnsupportedParameter(t *testing.T) {
	h := startServer(t, Options{})
	f := facts(t, testData(t))
	ex := h.mustExport(exportRequest{
		prefer: "respond-async, handling=lenient",
		params: standard("snapshot", patientParam(f.member), p("_elements", "valueString", "id"), p("_type", "valueString", "Patient,Spaceship")),
	})
	var found []string
	for _, oo := range ex.errors {
		if oo["resourceType"] != "OperationOutcome" {
			t.Errorf("error file holds a %v", oo["resourceType"])
		}
		found = append(found, fmt.Sprint(oo["issue"]))
	}
	for _, want := range []string{"_elements", "Spaceship"} {
		if !strings.Contains(strings.Join(found, "\n"), want) {
			t.Errorf("no OperationOutcome in the error files mentions %s: %v", want, found)
		}
	}
	if got := ex.keys(); len(got) != 1 || got[0] != "Patient/"+f.member {
		t.Errorf("lenient export with _type=Patient,Spaceship exported %v, want only Patient/%s", got, f.member)
	}
	// Every type asked for ignored: nothing is exported, not everything.
	none := h.mustExport(exportRequest{
		prefer: "respond-async, handling=lenient",
		params: standard("snapshot", patientParam(f.member), p("_type", "valueString", "Spaceship")),
	})
	if got := none.keys(); len(got) != 0 || len(none.manifest.Output) != 0 {
		t.Errorf("lenient export with _type=Spaceship exported %d resources", len(got))
	}
	if len(none.errors) == 0 {
		t.Error("no OperationOutcome for the ignored type")
	}
}

// TestTooManyJobs: past MaxJobsPerClient a kick-off gets 429 and
// Retry-After; the limit is per client.
func TestTooManyJobs(t *testing.T) {
	h := startServer(t, Options{MaxJobsPerClient: 2})
	h.hold()
	for i := range 2 {
		r, err := h.kickoff(exportRequest{params: standard("snapshot")})
		if err != nil || r.status != http.StatusAccepted {
			t.Fatalf("kick-off %d: %v HTTP %d %s", i, err, r.status, r.body)
		}
	}
	r, err := h.kickoff(exportRequest{params: standard("snapshot")})
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third kick-off: HTTP %d, want 429", r.status)
	}
	if ra, ok := bulk.RetryAfter(r.header.Get("Retry-After"), h.now()); !ok || ra <= 0 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if _, err := r.outcome(); err != nil {
		t.Error(err)
	}
	other, err := h.kickoff(exportRequest{client: OtherClientID, group: "group-02", params: standard("snapshot")})
	if err != nil || other.status != http.StatusAccepted {
		t.Fatalf("another client's kick-off: %v HTTP %d (the limit must be per client)", err, other.status)
	}
	h.unhold()
	// Once the jobs finish, the client may start again.
	for _, loc := range []string{other.header.Get("Content-Location")} {
		if st, err := h.poll(OtherClientID, loc); err != nil || st.status != http.StatusOK {
			t.Fatalf("poll: %v %d", err, st.status)
		}
	}
	var ok bool
	for range 200 {
		r, err := h.kickoff(exportRequest{params: standard("snapshot")})
		if err != nil {
			t.Fatal(err)
		}
		if r.status == http.StatusAccepted {
			ok = true
			break
		}
		pollAll(t, h)
	}
	if !ok {
		t.Error("kick-offs are still refused after the jobs finished")
	}
}

// pollAll waits a little for running jobs to finish.
func pollAll(t *testing.T, h *harness) {
	t.Helper()
	rows, err := h.srv.store.db.Query(`SELECT id, client FROM jobs WHERE state IN ('queued','running')`)
	if err != nil {
		t.Fatal(err)
	}
	var jobs [][2]string
	for rows.Next() {
		var id, client string
		if err := rows.Scan(&id, &client); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, [2]string{id, client})
	}
	rows.Close()
	for _, j := range jobs {
		h.poll(j[1], h.srv.URL+"/jobs/"+j[0])
	}
}

// TestConcurrentKickoffsRespectLimit: kick-offs racing each other cannot
// exceed the per-client limit.
func TestConcurrentKickoffsRespectLimit(t *testing.T) {
	h := startServer(t, Options{MaxJobsPerClient: 3})
	h.hold()
	h.token(TestClientID)
	results := make(chan int, 12)
	for range 12 {
		go func() {
			r, err := h.kickoff(exportRequest{params: standard("snapshot")})
			if err != nil {
				results <- -1
				return
			}
			results <- r.status
		}()
	}
	counts := map[int]int{}
	for range 12 {
		counts[<-results]++
	}
	if counts[http.StatusAccepted] != 3 || counts[http.StatusTooManyRequests] != 9 {
		t.Errorf("statuses %v, want 3 × 202 and 9 × 429", counts)
	}
}

// TestMalformedInput: hostile or broken requests get a 4xx
// OperationOutcome, never a 500.
func TestMalformedInput(t *testing.T) {
	h := startServer(t, Options{})
	tok := h.token(TestClientID)
	const kick = "/Group/group-01/$davinci-data-export"
	bigValue := strings.Repeat("x", maxValueLength+1)
	manyParams := `{"resourceType":"Parameters","parameter":[` + strings.Repeat(`{"name":"patient","valueReference":{"reference":"Patient/x"}},`, maxParameters) + `{"name":"patient","valueReference":{"reference":"Patient/y"}}]}`
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
	}{
		{"body not JSON", "POST", kick, `{"resourceType":`, 400},
		{"body a JSON array", "POST", kick, `[1,2]`, 400},
		{"body another resource", "POST", kick, `{"resourceType":"Patient"}`, 400},
		{"parameter not an object", "POST", kick, `{"resourceType":"Parameters","parameter":[1]}`, 400},
		{"parameter without name", "POST", kick, `{"resourceType":"Parameters","parameter":[{"valueString":"x"}]}`, 400},
		{"parameter name a number", "POST", kick, `{"resourceType":"Parameters","parameter":[{"name":7,"valueString":"x"}]}`, 400},
		{"parameter without value", "POST", kick, `{"resourceType":"Parameters","parameter":[{"name":"exportType"}]}`, 400},
		{"parameter with two values", "POST", kick, `{"resourceType":"Parameters","parameter":[{"name":"exportType","valueString":"a","valueCode":"b"}]}`, 400},
		{"valueString not a string", "POST", kick, `{"resourceType":"Parameters","parameter":[{"name":"exportType","valueString":{"a":1}}]}`, 400},
		{"valueReference not an object", "POST", kick, `{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":"Patient/x"}]}`, 400},
		{"value too long", "POST", kick, `{"resourceType":"Parameters","parameter":[{"name":"exportType","valueString":"` + bigValue + `"}]}`, 400},
		{"too many parameters", "POST", kick, manyParams, 400},
		{"body too large", "POST", kick, `{"resourceType":"Parameters","parameter":[],"x":"` + strings.Repeat("y", maxBodyBytes) + `"}`, 413},
		{"query bad escape", "GET", kick + "?exportType=%zz", "", 400},
		{"query semicolon", "GET", kick + "?exportType=a;exportMode=b", "", 400},
		{"query value too long", "GET", kick + "?exportType=" + bigValue, "", 400},
		{"query on POST malformed", "POST", kick + "?_type=%", "", 400},
		{"_typeFilter bad escape", "GET", kick + "?exportType=hl7.fhir.us.davinci-pdex&exportMode=snapshot&_typeFilter=" + url.QueryEscape("Observation?code=%zz"), "", 400},
		{"invalid UTF-8 body", "POST", kick, "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"exportType\",\"valueString\":\"\xff\xfe\"}]}", 400},
		{"Group search bad escape", "GET", "/Group?identifier=%zz", "", 400},
		{"job id garbage", "GET", "/jobs/%00%01", "", 404},
		{"file id garbage", "GET", "/files/" + strings.Repeat("z", 300), "", 404},
		{"read odd type", "GET", "/patient%20x/1", "", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			r := h.mustDo(c.method, c.path, tok, http.Header{"Prefer": {"respond-async"}, "Content-Type": {"application/fhir+json"}}, body)
			if r.status != c.want {
				t.Fatalf("HTTP %d, want %d: %.300s", r.status, c.want, r.body)
			}
			if _, err := r.outcome(); err != nil {
				t.Error(err)
			}
		})
	}
}
