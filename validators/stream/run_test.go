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

// TestRunInputProblems: input that holds no resource, or is not JSON, is
// reported once per problem, with where it is and, when the file is not
// NDJSON at all, what it looks like instead.
func TestRunInputProblems(t *testing.T) {
	pretty := "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"p1\"\n}\n"
	array := "[\n  {\"resourceType\": \"Patient\", \"id\": \"p1\"},\n  {\"resourceType\": \"Patient\", \"id\": \"p2\"}\n]\n"
	tests := []struct {
		name    string
		file    string
		content string
		want    []string // "line:message fragment" of each item with an issue, in order
		checked int      // resources handed to the checker
	}{
		{"empty ndjson", "a.ndjson", "", []string{"0:no resources: the file is empty"}, 0},
		{"blank lines only", "a.ndjson", "\n \r\n\n", []string{"0:holds 3 blank lines and nothing else"}, 0},
		{"empty json", "a.json", "  \n", []string{"0:no resources: the file is empty"}, 0},
		{"bundle without entries", "a.json", `{"resourceType":"Bundle","type":"collection"}`, []string{"0:the Bundle has no entry"}, 0},
		{"syntax error once, with its column", "a.ndjson", `{"resourceType":"Patient","id":"p1"}` + "\n" + `{"resourceType":"Patient","id":x}` + "\n" + `{"resourceType":"Patient","id":"p3"}`,
			[]string{"2:invalid JSON at column 32: invalid character 'x'"}, 2},
		{"truncated line", "a.ndjson", `{"resourceType":"Patient","id":"p1"}` + "\n" + `{"resourceType":"Pat`,
			[]string{"2:invalid JSON at column 21: unexpected end of JSON input"}, 1},
		{"a line that is not an object", "a.ndjson", `"Patient"` + "\n" + `{"resourceType":"Patient","id":"p2"}`,
			[]string{"1:the line is a JSON string, not a resource"}, 1},
		{"a JSON array on one line", "a.ndjson", `[{"resourceType":"Patient","id":"p1"}]`,
			[]string{"1:a JSON array, not a resource (a JSON object); NDJSON holds one resource per line, not an array (jq -c '.[]'"}, 0},
		{"pretty-printed JSON saved as .ndjson: one error with a hint", "a.ndjson", pretty,
			[]string{"1:unexpected end of JSON input; the file looks like pretty-printed JSON, but NDJSON holds one whole resource per line: save it as .json, or make it NDJSON with jq -c; the rest of the file was not read"}, 0},
		{"JSON array saved as .ndjson: one error with a hint", "a.ndjson", array,
			[]string{"1:the file looks like a JSON array, but NDJSON holds one resource per line: save it as .json, or make it NDJSON with jq -c '.[]'; the rest of the file was not read"}, 0},
		{"pretty-printed JSON from standard input", "-", pretty, []string{"1:(standard input is read as NDJSON)"}, 0},
		{"syntax error in a JSON document: line and column", "a.json", "{\n  \"resourceType\": \"Patient\",\n  \"id\" \"p1\"\n}\n",
			[]string{"0:invalid JSON at line 3, column 8: invalid character '\"' after object key"}, 0},
		{"NDJSON saved as .json", "a.json", `{"resourceType":"Patient","id":"p1"}` + "\n" + `{"resourceType":"Patient","id":"p2"}` + "\n",
			[]string{"0:the file looks like NDJSON (one resource per line): name it .ndjson"}, 0},
		{"a JSON document that is not an object", "a.json", `[1, 2]`, []string{"0:the document is a JSON array, not a resource"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, stdin := tt.file, ""
			if tt.file == "-" {
				stdin = tt.content
			} else {
				in = write(t, t.TempDir(), tt.file, tt.content)
			}
			var checked atomic.Int64
			check := func(raw []byte) []validators.Issue { checked.Add(1); return nil }
			items, tot := collect(t, []string{in}, check, Options{Stdin: strings.NewReader(stdin)})
			var got []Item
			for _, it := range items {
				if len(it.Issues) > 0 {
					got = append(got, it)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d items with issues, want %d: %+v", len(got), len(tt.want), items)
			}
			for i, w := range tt.want {
				line, frag, _ := strings.Cut(w, ":")
				it := got[i]
				if fmt.Sprint(it.Line) != line || len(it.Issues) != 1 || !strings.Contains(it.Issues[0].Message, frag) ||
					it.Issues[0].Severity != validators.Error || it.Issues[0].Rule != "input" || !it.Input {
					t.Errorf("item %d = line %d %+v, want line %s with one input error containing %q", i, it.Line, it.Issues, line, frag)
				}
			}
			if int(checked.Load()) != tt.checked || tot.Resources != tt.checked || tot.Errors != len(tt.want) {
				t.Errorf("checked %d, totals %+v; want %d resources checked and %d errors", checked.Load(), tot, tt.checked, len(tt.want))
			}
		})
	}
}

func TestRunNoResourceFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "notes.txt", "not a resource file")
	_, err := Run(context.Background(), []string{dir}, errorIfBad, func(Item) error { return nil }, Options{})
	if err == nil || !strings.Contains(err.Error(), "no resources") {
		t.Errorf("a folder without resource files must be an error saying so, got %v", err)
	}
}
