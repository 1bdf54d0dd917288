package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/compartment"
)

func exportOf(t *testing.T, lines ...string) *Export {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Patient.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Export{Files: []bulk.File{{Ref: bulk.ManifestRef{Type: "Patient", URL: "http://x/Patient.ndjson"}, Path: p}}}
}

// testCompartment is a Patient compartment of Conditions by subject, as
// the R4 definition has it, for tests that run without FHIR packages.
func testCompartment() (*compartment.Definition, error) {
	def := `{"resourceType":"CompartmentDefinition","url":"` + compartment.PatientURL + `","version":"4.0.1","code":"Patient",
		"resource":[{"code":"Condition","param":["patient"]}]}`
	sp := compartment.SearchParameter{URL: "http://hl7.org/fhir/SearchParameter/clinical-patient", Code: "patient",
		Base: []string{"Condition"}, Expression: "Condition.subject.where(resolve() is Patient)"}
	return compartment.New([]byte(def), []compartment.SearchParameter{sp})
}

// indexOnly runs an export's files through the pipeline as RunExport does,
// indexing without validating.
func indexOnly(x *Export) error {
	d, err := testCompartment()
	if err != nil {
		return err
	}
	p := (&Env{Compartment: d}).newPipeline(context.Background(), true, false)
	for _, f := range x.Files {
		p.add(f)
	}
	p.wait()
	return p.indexInto(x)
}

// TestIndexReportsBadLines checks that lines a hostile target may send are
// reported, never a panic: invalid UTF-8 (reported, and the resource still
// indexed), lines that are not JSON resources, and no more than
// maxLineErrors of them kept.
func TestIndexReportsBadLines(t *testing.T) {
	lines := []string{
		`{"resourceType":"Patient","id":"p1"}`,
		`{"resourceType":"Patient","id":"p2","name":[{"family":"Mu` + "\xf1\xff" + `oz"}]}`,
		`<html><body>oops</body></html>`,
		`{"id":"no-type"}`,
		`[1,2,3]`,
	}
	for i := range 2 * maxLineErrors {
		lines = append(lines, fmt.Sprintf("garbage %d", i))
	}
	x := exportOf(t, lines...)
	if err := indexOnly(x); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Patient/p1", "Patient/p2"} {
		if _, ok := x.Resources[k]; !ok {
			t.Errorf("%s is not indexed", k)
		}
	}
	want := []string{
		"Patient line 2: not valid UTF-8",
		"Patient line 3: not a JSON resource",
		"Patient line 4: not a JSON resource",
		"Patient line 5: not a JSON resource",
	}
	for i, w := range want {
		if i >= len(x.LineErrors) || x.LineErrors[i] != w {
			t.Fatalf("LineErrors start %q, want %q", x.LineErrors[:min(len(x.LineErrors), len(want))], want)
		}
	}
	if len(x.LineErrors) != maxLineErrors+1 {
		t.Errorf("%d line errors kept, want %d and a count of the rest", len(x.LineErrors), maxLineErrors+1)
	}
	if last := x.LineErrors[len(x.LineErrors)-1]; last != fmt.Sprintf("and %d more lines", 2*maxLineErrors+4-maxLineErrors) {
		t.Errorf("last line error %q", last)
	}
}

// panicky panics on lines that hold "boom", as a third-party parser might
// on hostile input.
type panicky struct{}

func (panicky) Validate(_ string, raw []byte) []validators.Issue {
	if strings.Contains(string(raw), "boom") {
		panic("index out of range")
	}
	return nil
}

func (panicky) ProfilesLoaded() (bool, string) { return false, "" }

func TestValidateSurvivesValidatorPanics(t *testing.T) {
	x := exportOf(t, `{"resourceType":"Patient","id":"p1"}`, `{"resourceType":"Patient","id":"boom"}`, `{"resourceType":"Patient","id":"p3"}`)
	e := &Env{Validator: panicky{}}
	v := e.Validate(x)
	if v.Lines != 3 || v.Errors != 1 || v.Structural != 1 {
		t.Fatalf("validation %+v, want 3 lines and 1 structural error", v)
	}
	if len(v.Files) != 1 || len(v.Files[0].First) != 1 || !strings.Contains(v.Files[0].First[0], "line 2: error : the validator failed on this line (index out of range)") {
		t.Errorf("issues %q", v.Files[0].First)
	}
}

func TestRecordKeepsFirstAndLatest(t *testing.T) {
	e := &Env{}
	const n = 5 * maxExchangesPerSpec
	for i := range n {
		e.record(evidence.Exchange{URL: fmt.Sprint(i)})
	}
	if len(e.exchanges) != maxExchangesPerSpec || e.dropped != n-maxExchangesPerSpec {
		t.Fatalf("kept %d, dropped %d", len(e.exchanges), e.dropped)
	}
	half := maxExchangesPerSpec / 2
	for i, ex := range e.exchanges {
		want := i
		if i >= half {
			want = n - maxExchangesPerSpec + i
		}
		if ex.URL != fmt.Sprint(want) {
			t.Fatalf("exchange %d is #%s, want #%d (the first %d and the latest %d)", i, ex.URL, want, half, half)
		}
	}
}
