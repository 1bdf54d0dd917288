package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
)

func TestHead(t *testing.T) {
	tests := []struct {
		raw, typ, id string
	}{
		{`{"resourceType":"Patient","id":"p1","gender":"female"}`, "Patient", "p1"},
		{` { "meta" : {"profile":["x"]}, "id" : "e-1", "resourceType" : "ExplanationOfBenefit" }`, "ExplanationOfBenefit", "e-1"},
		{`{"text":{"div":"<div>\"id\": \"no\"} ]</div>"},"contained":[{"resourceType":"Organization","id":"inner"}],"id":"outer","resourceType":"Claim"}`, "Claim", "outer"},
		{`{"a":[1,{"b":[true,null,-2.5e3]}],"resourceType":"Observation","id":"o\u00e9\\\"q"}`, "Observation", "oé\\\"q"},
		{`{"resourceType":"Patient"}`, "Patient", ""},
		{`{"id":7,"resourceType":"Patient"}`, "Patient", ""},
		{`[{"resourceType":"Patient","id":"x"}]`, "", ""},
		{`{"resourceType":`, "", ""},
		{`not json`, "", ""},
		{``, "", ""},
	}
	for _, tt := range tests {
		typ, id := head([]byte(tt.raw))
		if typ != tt.typ || id != tt.id {
			t.Errorf("head(%s) = %q, %q; want %q, %q", tt.raw, typ, id, tt.typ, tt.id)
		}
		// Where encoding/json can read the document, head agrees with it.
		var h struct {
			ResourceType any `json:"resourceType"`
			ID           any `json:"id"`
		}
		if json.Unmarshal([]byte(tt.raw), &h) == nil {
			wt, _ := h.ResourceType.(string)
			wi, _ := h.ID.(string)
			if wt != typ || wi != id {
				t.Errorf("head(%s) = %q, %q; encoding/json reads %q, %q", tt.raw, typ, id, wt, wi)
			}
		}
	}
}

// TestRunOrderAndCounts checks that results come out in input order, with
// lines numbered, whatever order the workers finish in.
func TestRunOrderAndCounts(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, `{"resourceType":"Patient","id":"p%d"}`+"\n", i)
		if i%100 == 0 {
			b.WriteString("\n") // blank lines are skipped but counted
		}
	}
	path := filepath.Join(dir, "a.ndjson")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(raw []byte) []validators.Issue {
		if strings.Contains(string(raw), `"p7"`) {
			return []validators.Issue{{Severity: validators.Error, Message: "seven"}}
		}
		return nil
	}
	next, line := 0, 0
	emit := func(it Item) error {
		if want := fmt.Sprintf("p%d", next); it.ID != want || it.Type != "Patient" {
			t.Fatalf("item %d is %s/%s, want Patient/%s", next, it.Type, it.ID, want)
		}
		if it.Line <= line {
			t.Fatalf("line %d after line %d", it.Line, line)
		}
		next, line = next+1, it.Line
		return nil
	}
	tot, err := Run(context.Background(), []string{dir}, check, emit, Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Resources != 500 || tot.Errors != 1 || tot.Files != 1 {
		t.Errorf("totals %+v", tot)
	}
}
