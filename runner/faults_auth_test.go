package runner_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

// authAreas selects the Discovery, Authorization and Group specs: the areas
// this table proves, run without the exports of the other areas.
const authAreas = "/^PA-(CAP|SMART|AUTH|GROUP)-/"

// authFaults maps each reference-server fault to the specs it must fail.
// An entry is a requirement ID (every spec labelled with it) or
// "ID: leaf text" (that one spec). Every other selected spec must pass.
var authFaults = []struct {
	fault string
	fail  []string
}{
	{"capability-no-group-search", []string{"PA-CAP-01"}},
	{"capability-no-export", []string{"PA-CAP-02"}},
	{"smart-config-incomplete", []string{"PA-SMART-01"}},
	{"token-without-expires-in", []string{"PA-AUTH-01"}},
	{"accept-bad-signature", []string{"PA-AUTH-02"}},
	{"ignore-audience", []string{"PA-AUTH-03"}},
	{"ignore-expiry", []string{"PA-AUTH-04"}},
	{"allow-replay", []string{"PA-AUTH-05"}},
	{"accept-unknown-client", []string{"PA-AUTH-06: from a client that is not registered"}},
	{"accept-unknown-kid", []string{"PA-AUTH-06: with a kid that is not registered"}},
	{"accept-wrong-grant-type", []string{"PA-AUTH-07: with a grant_type other than client_credentials"}},
	{"accept-wrong-assertion-type", []string{"PA-AUTH-07: with a client_assertion_type other than jwt-bearer"}},
	{"trust-header-alg", []string{"PA-AUTH-11"}},
	// Without any token check, files need no token and nothing keeps one
	// client from another's Groups, jobs and files.
	{"no-auth", []string{"PA-AUTH-08", "PA-AUTH-09", "PA-AUTH-10"}},
	// Files served to anyone are served to another client too.
	{"files-without-token", []string{"PA-AUTH-09", "PA-AUTH-10: does not let a client download another client's files"}},
	{"ignore-entitlement", []string{
		"PA-AUTH-10: does not let a client read a Group it is not entitled to",
		"PA-AUTH-10: does not let a client export a Group it is not entitled to",
	}},
	{"group-search-broken", []string{"PA-GROUP-02"}},
	// Without Group read there is no Group to search for or to check, and
	// the issued token cannot be shown to work (PA-AUTH-01 reads the Group
	// with it).
	{"no-group-read", []string{"PA-GROUP-01", "PA-GROUP-02", "PA-GROUP-03", "PA-AUTH-01"}},
	{"group-bad-shape", []string{"PA-GROUP-03"}},
}

// specKey names a spec by its requirement IDs and leaf text.
func specKey(s types.SpecReport) string {
	var ids []string
	for _, l := range s.Labels() {
		if catalog.IsID(l) {
			ids = append(ids, l)
		}
	}
	return strings.Join(ids, ",") + ": " + s.LeafNodeText
}

// runAuthAreas runs the selected specs against the reference server with
// fault switched on ("" for none) and returns the spec reports.
func runAuthAreas(t *testing.T, fault string) []types.SpecReport {
	t.Helper()
	cfg := &config.Config{Target: "reference", LabelFilter: authAreas}
	if fault != "" {
		cfg.Faults = []string{fault}
	}
	res, err := runner.Run(context.Background(), cfg, runner.Options{NoColor: true, Registry: runner.SharedRegistry(t)})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// Specs the filter left out are reported too, as skipped.
	selected, err := types.ParseLabelFilter(authAreas)
	if err != nil {
		t.Fatal(err)
	}
	var specs []types.SpecReport
	for _, s := range res.Report.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && selected(s.Labels()) {
			specs = append(specs, s)
		}
	}
	if len(specs) == 0 {
		t.Fatalf("label filter %s selected no spec", authAreas)
	}
	return specs
}

// expand turns the table's entries into spec keys, checking each names at
// least one spec that ran.
func expand(t *testing.T, want []string, all []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, w := range want {
		n := 0
		for _, k := range all {
			ids, _, _ := strings.Cut(k, ": ")
			if k == w || (!strings.Contains(w, ": ") && slices.Contains(strings.Split(ids, ","), w)) {
				out[k] = true
				n++
			}
		}
		if n == 0 {
			t.Errorf("the table names %q, which matches no spec", w)
		}
	}
	return out
}

func sorted(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAuthAreasProvenAbleToFail runs Discovery, Authorization and Group
// against the clean reference server (every spec passes) and against each
// fault (exactly the specs covering the broken rule fail), then checks that
// every spec failed under some fault.
func TestAuthAreasProvenAbleToFail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suites about twenty times against the reference server")
	}
	// Ginkgo's state is global: these runs must stay sequential.
	clean := runAuthAreas(t, "")
	var all []string
	for _, s := range clean {
		k := specKey(s)
		all = append(all, k)
		if s.State != types.SpecStatePassed {
			t.Errorf("clean reference server: %s %s: %s", k, s.State, s.Failure.Message)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	failedSomewhere := map[string]bool{}
	ran := 0
	for _, tc := range authFaults {
		t.Run(tc.fault, func(t *testing.T) {
			ran++
			want := expand(t, tc.fail, all)
			got := map[string]bool{}
			for _, s := range runAuthAreas(t, tc.fault) {
				k := specKey(s)
				switch {
				case s.State.Is(types.SpecStateFailureStates):
					got[k] = true
					failedSomewhere[k] = true
					if !want[k] {
						t.Errorf("%s failed, but the fault should not affect it: %s", k, s.Failure.Message)
					}
				case want[k]:
					t.Errorf("%s %s, want it failed", k, s.State)
				case s.State != types.SpecStatePassed:
					t.Errorf("%s %s, want it passed", k, s.State)
				}
			}
			if t.Failed() {
				t.Logf("failed: %q; want %q", sorted(got), sorted(want))
			}
		})
	}
	if ran < len(authFaults) {
		return // -run chose some faults: coverage needs them all
	}
	for _, k := range all {
		if !failedSomewhere[k] {
			t.Errorf("no fault makes %q fail: it is not proven able to fail", k)
		}
	}
}
