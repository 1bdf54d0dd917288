package stream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/validators"
)

// errorIfBad reports an error for resources whose id starts with "bad".
func errorIfBad(raw []byte) []validators.Issue {
	if strings.Contains(string(raw), `"id":"bad`) {
		return []validators.Issue{{Severity: validators.Error, Message: "bad"}}
	}
	return nil
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func collect(t *testing.T, inputs []string, check Checker, o Options) ([]Item, Totals) {
	t.Helper()
	var items []Item
	tot, err := Run(context.Background(), inputs, check, func(it Item) error {
		items = append(items, it)
		return nil
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	return items, tot
}

func TestRunInputs(t *testing.T) {
	dir := t.TempDir()
	nd := write(t, dir, "a.ndjson", `{"resourceType":"Patient","id":"p1"}`+"\n\n"+`{"resourceType":"Patient","id":"bad2"}`+"\n"+`{"resourceType":"Patient","id":"p3"}`)
	doc := write(t, dir, "b.json", `{"resourceType":"Observation","id":"o1"}`)
	bundle := write(t, dir, "c.json", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"x"}},{"fullUrl":"urn:a"},{"resource":{"resourceType":"Condition","id":"bad-c"}}]}`)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	write(t, sub, "z.ndjson", `{"resourceType":"Coverage","id":"c9"}`+"\n")
	write(t, sub, "._z.ndjson", "macOS metadata")
	write(t, sub, "notes.txt", "not a resource file")

	tests := []struct {
		name   string
		inputs []string
		stdin  string
		want   []string // "file:line:entry:type/id:issues"
		errs   int
	}{
		{"ndjson skips blank lines and keeps line numbers", []string{nd}, "",
			[]string{"a.ndjson:1:-1:Patient/p1:0", "a.ndjson:3:-1:Patient/bad2:1", "a.ndjson:4:-1:Patient/p3:0"}, 1},
		{"json document", []string{doc}, "", []string{"b.json:0:-1:Observation/o1:0"}, 0},
		{"bundle entries, in order", []string{bundle}, "", []string{"c.json:0:0:Patient/x:0", "c.json:0:2:Condition/bad-c:1"}, 1},
		{"folder walked for resource files only", []string{sub}, "", []string{"z.ndjson:1:-1:Coverage/c9:0"}, 0},
		{"standard input", []string{"-"}, `{"resourceType":"Patient","id":"s1"}` + "\n", []string{"-:1:-1:Patient/s1:0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, tot := collect(t, tt.inputs, errorIfBad, Options{Stdin: strings.NewReader(tt.stdin)})
			var got []string
			for _, it := range items {
				got = append(got, fmt.Sprintf("%s:%d:%d:%s/%s:%d", filepath.Base(it.File), it.Line, it.Entry, it.Type, it.ID, len(it.Issues)))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("items = %v, want %v", got, tt.want)
			}
			if tot.Errors != tt.errs || tot.Resources != len(tt.want) {
				t.Errorf("totals = %+v, want %d errors over %d resources", tot, tt.errs, len(tt.want))
			}
		})
	}
}

// TestRunKeepsInputOrder: workers finish out of order (later lines are
// faster), yet items come out in input order.
func TestRunKeepsInputOrder(t *testing.T) {
	var b strings.Builder
	const n = 500
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"resourceType":"Patient","id":"p%d"}`+"\n", i)
	}
	p := write(t, t.TempDir(), "many.ndjson", b.String())
	slow := func(raw []byte) []validators.Issue {
		if strings.Contains(string(raw), `"p1"`) || strings.HasSuffix(strings.TrimSpace(string(raw)), `0"}`) {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	}
	items, _ := collect(t, []string{p}, slow, Options{Workers: 8})
	if len(items) != n {
		t.Fatalf("%d items, want %d", len(items), n)
	}
	for i, it := range items {
		if it.ID != fmt.Sprintf("p%d", i) || it.Line != i+1 {
			t.Fatalf("item %d is %s at line %d: order lost", i, it.ID, it.Line)
		}
	}
}

// TestRunBoundsReadAhead: reading never runs further ahead of emitting
// than the ordering window, so memory does not grow with input size.
func TestRunBoundsReadAhead(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, `{"resourceType":"Patient","id":"p%d"}`+"\n", i)
	}
	p := write(t, t.TempDir(), "many.ndjson", b.String())
	var checked, emitted atomic.Int64
	var maxAhead int64
	check := func([]byte) []validators.Issue { checked.Add(1); return nil }
	_, err := Run(context.Background(), []string{p}, check, func(Item) error {
		if ahead := checked.Load() - emitted.Load(); ahead > maxAhead {
			maxAhead = ahead
		}
		time.Sleep(50 * time.Microsecond) // a slow consumer
		emitted.Add(1)
		return nil
	}, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if limit := int64(2*16 + 2*4 + 2); maxAhead > limit {
		t.Errorf("validation ran %d resources ahead of output, want at most %d", maxAhead, limit)
	}
}

func TestRunLongLineIsReportedNotHeld(t *testing.T) {
	long := `{"resourceType":"Patient","id":"` + strings.Repeat("x", 5000) + `"}`
	p := write(t, t.TempDir(), "long.ndjson", `{"resourceType":"Patient","id":"p1"}`+"\n"+long+"\n"+`{"resourceType":"Patient","id":"p3"}`+"\n")
	items, tot := collect(t, []string{p}, errorIfBad, Options{MaxLine: 1000})
	if len(items) != 3 || items[1].Line != 2 || len(items[1].Issues) != 1 || !strings.Contains(items[1].Issues[0].Message, "longer than 1000") {
		t.Fatalf("items = %+v", items)
	}
	if items[2].ID != "p3" || items[2].Line != 3 {
		t.Errorf("reading did not resume after the long line: %+v", items[2])
	}
	if tot.Errors != 1 {
		t.Errorf("totals = %+v", tot)
	}
}

func TestRunErrors(t *testing.T) {
	if _, err := Run(context.Background(), []string{filepath.Join(t.TempDir(), "missing.ndjson")}, errorIfBad, func(Item) error { return nil }, Options{}); err == nil {
		t.Error("a missing input must be an error")
	}
	p := write(t, t.TempDir(), "a.ndjson", `{"resourceType":"Patient","id":"p1"}`+"\n"+`{"resourceType":"Patient","id":"p2"}`+"\n")
	stop := fmt.Errorf("stop")
	_, err := Run(context.Background(), []string{p}, errorIfBad, func(Item) error { return stop }, Options{})
	if err != stop {
		t.Errorf("an emit error must end the run and be returned, got %v", err)
	}
}
