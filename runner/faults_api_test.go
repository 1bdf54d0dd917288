package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/config"
)

// TestAPIDescriptionAgainstFaults proves PA-API-01 able to fail: its specs
// pass against the clean reference server and fail against each fault that
// makes an exchange leave the OpenAPI description.
func TestAPIDescriptionAgainstFaults(t *testing.T) {
	tests := []struct {
		faults []string
		fail   []string
	}{
		{nil, nil},
		{[]string{"no-content-location"}, []string{"PA-API-01"}},    // kick-off 202 without its required header
		{[]string{"manifest-missing-field"}, []string{"PA-API-01"}}, // manifest without transactionTime
		{[]string{"manifest-content-type"}, []string{"PA-API-01"}},  // manifest served as text/plain
		{[]string{"plain-text-errors"}, []string{"PA-API-01"}},      // a refused kick-off without an OperationOutcome
		{[]string{"wrong-content-type"}, []string{"PA-API-01"}},     // a file served as application/json
	}
	if testing.Short() {
		tests = tests[:2]
	}
	for _, tt := range tests {
		name := strings.Join(tt.faults, "+")
		if name == "" {
			name = "no-fault"
		}
		t.Run(name, func(t *testing.T) {
			cfg := &config.Config{Target: "reference", Faults: tt.faults, LabelFilter: "PA-API-01"}
			res, err := Run(context.Background(), cfg, Options{NoColor: true})
			if err != nil {
				t.Fatal(err)
			}
			checkFailures(t, res.Report, tt.fail, name == "no-fault")
			ran := 0
			for _, sr := range res.Report.SpecReports {
				if sr.LeafNodeType != types.NodeTypeIt || sr.State == types.SpecStateSkipped {
					continue
				}
				ran++
				if sr.State.Is(types.SpecStateFailureStates) && !strings.Contains(sr.Failure.Message, "OpenAPI description") {
					t.Errorf("%s failed for another reason: %s", sr.FullText(), sr.Failure.Message)
				}
			}
			// The representative exchanges and the whole-run judgement.
			if ran != 2 {
				t.Errorf("%d PA-API-01 specs ran, want 2", ran)
			}
		})
	}
}
