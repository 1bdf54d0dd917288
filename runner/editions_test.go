package runner

import (
	"os"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/verdict"
)

// TestEditionMismatch runs the suite of one edition against a reference
// server of another: the run must fail, say that the target declares
// another edition, and fail specs with messages that name the difference
// between the two editions.
func TestEditionMismatch(t *testing.T) {
	t.Parallel() // child processes, like TestFaultTable
	if testing.Short() {
		t.Skip("runs four whole suites")
	}
	cases := []struct {
		suite, served string
		// failure is a fragment of some failed spec's message, the edition
		// difference said in the harness's own words.
		failure string
	}{
		{"2.1.0", "2.0.0", "2.0.0 sends exportType hl7.fhir.us.davinci-pdex with exportMode"},
		{"2.0.0", "2.1.0", "hl7.fhir.us.davinci-pdex"},
		{"2.2.0", "2.1.0", "editions 2.0.0 and 2.1.0 do not have it"},
		{"2.1.0", "2.2.0", "2.2.0: nothing the provider can read"},
	}
	var runs []tableRun
	for _, c := range cases {
		runs = append(runs, tableRun{Edition: c.suite, Served: c.served})
	}
	results := runAll(t, runs)
	if t.Failed() {
		t.FailNow()
	}
	for i, c := range cases {
		r := runs[i]
		t.Run(r.name(), func(t *testing.T) {
			outs := results[r.name()]
			failed, named := 0, false
			for _, o := range outs {
				if o.State == verdict.Failed {
					failed++
					named = named || strings.Contains(o.Why, c.failure)
				}
			}
			if failed == 0 {
				t.Fatalf("a %s server passed the %s suite", c.served, c.suite)
			}
			if !named {
				t.Errorf("%d specs failed, none saying %q", failed, c.failure)
			}
			reasons, err := os.ReadFile(r.Out + ".reasons")
			if err != nil {
				t.Fatal(err)
			}
			want := "The target declares PDex edition " + c.served
			if !strings.Contains(string(reasons), want) || !strings.Contains(string(reasons), "holds it to edition "+c.suite) {
				t.Errorf("the verdict's reasons do not say %q and %q:\n%s", want, "holds it to edition "+c.suite, reasons)
			}
		})
	}
}
