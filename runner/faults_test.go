package runner

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

// exportAreas selects the export scenarios (the discovery, authorization and
// Group areas have their own table in faults_auth_test.go, the API
// description its own in faults_api_test.go).
const exportAreas = "!(/^PA-AUTH-/ || /^PA-CAP-/ || /^PA-SMART-/ || /^PA-GROUP-/ || /^PA-API-/)"

// TestSuiteAgainstFaults proves every export spec able to fail: against the
// clean reference server every spec passes, and each fault switch makes
// exactly the specs of the requirements it breaks fail.
func TestSuiteAgainstFaults(t *testing.T) {
	tests := []struct {
		faults []string
		// fail names the specs that must fail, all others must pass: a
		// requirement ID means every spec of it; "ID@suffix" only its specs
		// whose text ends with suffix (the other specs of that ID pass).
		fail []string
	}{
		{nil, nil},
		{[]string{"accept-any-export-type"}, []string{"PA-ETYPE-01"}},
		{[]string{"refuse-pdex-export-type"}, []string{"PA-ETYPE-02", "PA-EXP-01", "PA-EXP-02", "PA-EXP-03", "PA-EXP-04", "PA-EXP-05", "PA-EXP-06", "PA-EXP-07",
			"PA-SUB-01", "PA-SUB-02", "PA-SUB-03", "PA-TYPE-01", "PA-TYPE-02", "PA-SINCE-01", "PA-SINCE-02", "PA-MODE-02", "PA-MODE-03",
			"PA-OPT-01", "PA-FIN-01", "PA-FIN-02", "PA-PROF-01", "PA-BULK-01", "PA-BULK-04", "PA-BULK-05", "PA-BULK-07"}},
		{[]string{"accept-any-export-mode"}, []string{"PA-MODE-01"}},
		{[]string{"leak-opted-out"}, []string{"PA-OPT-01"}},
		{[]string{"keep-financial"}, []string{"PA-FIN-01", "PA-FIN-02", "PA-PROF-01"}},
		{[]string{"ignore-since"}, []string{"PA-SINCE-01"}},
		{[]string{"ignore-until"}, []string{"PA-SINCE-02"}},
		{[]string{"ignore-type"}, []string{"PA-TYPE-01", "PA-TYPE-02"}},
		{[]string{"ignore-type-filter"}, []string{"PA-TYPE-02"}},
		{[]string{"ignore-patient"}, []string{"PA-SUB-01", "PA-SUB-03", "PA-TYPE-02", "PA-MODE-03"}},
		{[]string{"include-non-member"}, []string{"PA-EXP-06", "PA-SUB-01", "PA-SUB-02", "PA-TYPE-02"}},
		{[]string{"skip-last-download"}, []string{"PA-MODE-03"}},
		{[]string{"track-on-snapshot"}, []string{"PA-MODE-02", "PA-MODE-03"}},
		{[]string{"append-last-download"}, []string{"PA-MODE-03"}},
		{[]string{"wrong-content-type"}, []string{"PA-EXP-04"}},
		{[]string{"manifest-missing-field"}, []string{"PA-EXP-03"}},
		{[]string{"manifest-content-type"}, []string{"PA-EXP-02"}},
		{[]string{"wrong-count"}, []string{"PA-EXP-04"}},
		{[]string{"mixed-types-in-file"}, []string{"PA-EXP-03"}},
		{[]string{"relative-urls"}, []string{"PA-EXP-03"}},
		{[]string{"no-expires"}, []string{"PA-EXP-07"}},
		{[]string{"invalid-r4"}, []string{"PA-EXP-05", "PA-PROF-01"}},
		{[]string{"break-profile"}, []string{"PA-PROF-01"}},
		{[]string{"ignore-delete"}, []string{"PA-BULK-04"}},
		{[]string{"accept-no-prefer"}, []string{"PA-BULK-02"}},
		{[]string{"accept-unknown-param"}, []string{"PA-BULK-03"}},
		{[]string{"refuse-ndjson-alias"}, []string{"PA-BULK-01@ application/ndjson", "PA-BULK-01@ ndjson"}},
		{[]string{"no-error-for-non-member"}, []string{"PA-SUB-03"}},
		{[]string{"refuse-get-kickoff"}, []string{"PA-BULK-07"}},
		{[]string{"plain-text-errors"}, []string{"PA-BULK-03", "PA-BULK-06", "PA-ETYPE-01", "PA-MODE-01"}},
		// Retry-After can only be seen on an export still running when it is
		// polled: slow-export alone passes, with no-retry-after it fails.
		{[]string{"slow-export"}, nil},
		{[]string{"slow-export", "no-retry-after"}, []string{"PA-BULK-05"}},
	}
	if testing.Short() {
		tests = tests[:3]
	}
	// Across the table every selected spec must fail under some fault;
	// checked only when every row ran (not under -short or a narrowing -run).
	specs, failedOnce, rows := map[string]bool{}, map[string]bool{}, 0
	defer func() {
		if rows != len(tests) || testing.Short() {
			return
		}
		for text := range specs {
			if !failedOnce[text] {
				t.Errorf("no fault makes this spec fail, so nothing proves it able to fail: %s", text)
			}
		}
	}()
	for _, tt := range tests {
		name := strings.Join(tt.faults, "+")
		if name == "" {
			name = "no-fault"
		}
		t.Run(name, func(t *testing.T) {
			cfg := &config.Config{Target: "reference", Faults: tt.faults, LabelFilter: exportAreas}
			reg := SharedRegistry(t)
			if reg == nil && slices.Contains(tt.fail, "PA-PROF-01") {
				t.Skip("no FHIR packages: PA-PROF-01 cannot run")
			}
			res, err := Run(context.Background(), cfg, Options{NoColor: true, Registry: reg})
			if err != nil {
				t.Fatal(err)
			}
			checkFailures(t, res.Report, tt.fail, name == "no-fault")
			rows++
			for _, sr := range res.Report.SpecReports {
				if sr.LeafNodeType != types.NodeTypeIt || (sr.State == types.SpecStateSkipped && sr.Failure.Message == "") {
					continue // left out by the label filter
				}
				specs[sr.FullText()] = true
				if sr.State.Is(types.SpecStateFailureStates) {
					failedOnce[sr.FullText()] = true
				}
			}
		})
	}
}

// checkFailures asserts that exactly the specs named by want failed. clean
// also asserts that nothing was skipped other than specs whose input the
// reference server cannot provide.
func checkFailures(t *testing.T, r types.Report, want []string, clean bool) {
	t.Helper()
	// Specs the run's label filter leaves out are skipped on purpose.
	selected, err := types.ParseLabelFilter(r.SuiteConfig.LabelFilter)
	if err != nil {
		t.Fatalf("label filter %q: %v", r.SuiteConfig.LabelFilter, err)
	}
	matched := map[string]bool{}
	var unexpected, passedButWanted []string
	ran := 0
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			if sr.State.Is(types.SpecStateFailureStates) {
				t.Errorf("suite node %s failed: %s", sr.LeafNodeType, sr.Failure.Message)
			}
			continue
		}
		ids := requirementIDs(sr.Labels())
		text := sr.FullText()
		shouldFail := false
		for _, w := range want {
			id, suffix, qualified := strings.Cut(w, "@")
			if slices.Contains(ids, id) && (!qualified || strings.HasSuffix(text, suffix)) {
				shouldFail = true
				matched[w] = true
			}
		}
		switch {
		case sr.State.Is(types.SpecStateFailureStates):
			ran++
			if !shouldFail {
				unexpected = append(unexpected, text+" "+strings.Join(ids, ",")+": "+sr.Failure.Message)
			}
		case sr.State == types.SpecStatePassed:
			ran++
			if shouldFail {
				passedButWanted = append(passedButWanted, text+" "+strings.Join(ids, ","))
			}
		case sr.State == types.SpecStateSkipped && clean && selected(sr.Labels()):
			// PA-BULK-05 needs an export still running when polled;
			// PA-PROF-01 needs the FHIR packages.
			if !slices.Contains(ids, "PA-BULK-05") && !slices.Contains(ids, "PA-PROF-01") {
				t.Errorf("spec skipped against the clean reference server: %s: %s", text, sr.Failure.Message)
			}
		}
	}
	if ran == 0 {
		t.Fatal("no spec ran")
	}
	for _, u := range unexpected {
		t.Errorf("unexpected failure: %s", u)
	}
	for _, p := range passedButWanted {
		t.Errorf("spec should have failed: %s", p)
	}
	for _, w := range want {
		id, _, _ := strings.Cut(w, "@")
		if _, ok := catalog.Lookup(id); !ok {
			t.Errorf("the table names unknown requirement %s", id)
		} else if !matched[w] {
			t.Errorf("no spec matches %s: nothing proves it able to fail", w)
		}
	}
}

func requirementIDs(labels []string) []string {
	var out []string
	for _, l := range labels {
		if catalog.IsID(l) {
			out = append(out, l)
		}
	}
	return out
}
