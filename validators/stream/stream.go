// Package stream validates many resources from NDJSON files, JSON resources
// and Bundles using every core, with bounded memory and output in input
// order, whatever the input's size.
package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/pdex-conform/pdex-conform/ndjson"
	"github.com/pdex-conform/pdex-conform/validators"
)

// Checker validates one resource; it must be safe for concurrent use.
type Checker func(raw []byte) []validators.Issue

// Item is one validated resource.
type Item struct {
	File   string
	Line   int // 1-based line in an NDJSON file; 0 for a JSON document
	Entry  int // index in a Bundle, -1 otherwise
	Type   string
	ID     string
	Issues []validators.Issue
	// Input is set when the item reports a problem with the input itself
	// (a line that is not JSON, an empty file) rather than a validated
	// resource.
	Input bool
}

// Totals counts what was validated: Resources counts the resources
// checked, not the input problems (which count as errors).
type Totals struct {
	Files, Resources, Errors, Warnings int
}

// Options tune a run.
type Options struct {
	// Workers validating at once; 0 means GOMAXPROCS.
	Workers int
	// MaxLine bounds one NDJSON line or JSON document; 0 means
	// ndjson.DefaultMaxLine (64 MiB).
	MaxLine int
	// Stdin is read for the input "-".
	Stdin io.Reader
}

// Run validates every input (files, folders walked for .ndjson, .jsonl and
// .json files, or "-" for standard input) and calls emit for each resource
// in input order.
func Run(ctx context.Context, inputs []string, check Checker, emit func(Item) error, o Options) (Totals, error) {
	var t Totals
	files, err := expand(inputs)
	if err != nil {
		return t, err
	}
	if len(files) == 0 {
		return t, fmt.Errorf("no resources: %s holds no .ndjson, .jsonl or .json file", strings.Join(inputs, ", "))
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	maxLine := o.MaxLine
	if maxLine <= 0 {
		maxLine = ndjson.DefaultMaxLine
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		item Item
		raw  []byte
		out  chan Item
	}
	jobs := make(chan job, workers*4)
	// order holds each job's result channel in input order; its capacity
	// bounds how far reading may run ahead of emitting.
	order := make(chan chan Item, workers*16)
	for w := 0; w < workers; w++ {
		go func() {
			for j := range jobs {
				j.item.Issues = append(j.item.Issues, check(j.raw)...)
				j.out <- j.item
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		send := func(it Item, raw []byte) bool {
			out := make(chan Item, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return false
			}
			if raw == nil {
				it.Input = true
				out <- it // nothing to check: the issue is already known
				return true
			}
			select {
			case jobs <- job{item: it, raw: raw, out: out}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, f := range files {
			if err := readInput(ctx, f, o.Stdin, maxLine, send); err != nil {
				readErr <- err
				return
			}
		}
		readErr <- nil
	}()
	t.Files = len(files)
	var emitErr error
	for out := range order {
		it := <-out
		if !it.Input {
			t.Resources++
		}
		for _, is := range it.Issues {
			switch is.Severity {
			case validators.Error:
				t.Errors++
			case validators.Warning:
				t.Warnings++
			}
		}
		if emitErr == nil {
			if emitErr = emit(it); emitErr != nil {
				cancel()
			}
		}
	}
	if emitErr != nil {
		return t, emitErr
	}
	return t, <-readErr
}

// expand turns folders into the resource files they hold, sorted.
func expand(inputs []string) ([]string, error) {
	var out []string
	for _, in := range inputs {
		if in == "-" {
			out = append(out, in)
			continue
		}
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", in, errors.Unwrap(err))
		}
		if !st.IsDir() {
			out = append(out, in)
			continue
		}
		var found []string
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isResourceFile(p) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", in, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func isResourceFile(p string) bool {
	b := filepath.Base(p)
	if strings.HasPrefix(b, ".") {
		return false
	}
	switch filepath.Ext(b) {
	case ".ndjson", ".jsonl", ".json":
		return true
	}
	return false
}

// readInput reads one input and sends each resource in order.
func readInput(ctx context.Context, name string, stdin io.Reader, maxLine int, send func(Item, []byte) bool) error {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return errors.New("no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	if filepath.Ext(name) == ".json" {
		return readDocument(name, bufio.NewReaderSize(r, 1<<20), maxLine, send)
	}
	return readNDJSON(ctx, name, r, maxLine, send)
}

func readNDJSON(ctx context.Context, name string, r io.Reader, maxLine int, send func(Item, []byte) bool) error {
	nr := ndjson.NewReader(r, maxLine)
	sent := false
	for {
		n, line, err := nr.Next()
		var tooLong *ndjson.LineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			if !sent {
				send(Item{File: name, Entry: -1, Issues: []validators.Issue{issue(name, 0, noResources(nr.Line()))}}, nil)
			}
			return nil
		case errors.As(err, &tooLong):
			if !send(Item{File: name, Line: n, Entry: -1, Issues: []validators.Issue{issue(name, n, fmt.Sprintf("the line is longer than %d bytes and was not validated", maxLine))}}, nil) {
				return ctx.Err()
			}
			sent = true
			continue
		case err != nil:
			return fmt.Errorf("reading %s: %w", name, err)
		}
		first := !sent
		sent = true
		if msg, ok := lineProblem(line, first, name); ok {
			// A line that is not a JSON object is reported once, here,
			// and not validated: the checks would only repeat it.
			it := Item{File: name, Line: n, Entry: -1, Issues: []validators.Issue{issue(name, n, msg)}}
			if !send(it, nil) {
				return ctx.Err()
			}
			if first && multiLine(line) {
				// Pretty-printed JSON: every further line would fail
				// the same way.
				return nil
			}
			continue
		}
		it := Item{File: name, Line: n, Entry: -1}
		it.Type, it.ID = head(line)
		if !send(it, bytes.Clone(line)) {
			return ctx.Err()
		}
	}
}

func noResources(lines int) string {
	if lines == 0 {
		return "no resources: the file is empty"
	}
	return fmt.Sprintf("no resources: the file holds %d blank lines and nothing else", lines)
}

// lineProblem says why an NDJSON line is not a resource, if it is not: a
// JSON syntax error (with its column; the issue carries the line) or a value that is not an object. A
// file's first line gets a hint when it shows the file is not NDJSON at
// all (a JSON array, or pretty-printed JSON saved as .ndjson).
func lineProblem(line []byte, first bool, name string) (string, bool) {
	trimmed := bytes.TrimSpace(line)
	if json.Valid(trimmed) {
		if trimmed[0] == '{' {
			return "", false
		}
		msg := "the line is " + jsonKindOf(trimmed[0]) + ", not a resource (a JSON object)"
		if trimmed[0] == '[' {
			msg += "; NDJSON holds one resource per line, not an array (jq -c '.[]' turns an array into NDJSON)"
		}
		return msg, true
	}
	msg := "invalid JSON " + syntaxError(line, true)
	if first && multiLine(line) {
		msg += "; the file looks like pretty-printed JSON, but NDJSON holds one whole resource per line: save it as .json, or make it NDJSON with jq -c"
		if trimmed[0] == '[' {
			msg = "invalid JSON " + syntaxError(line, true) + "; the file looks like a JSON array, but NDJSON holds one resource per line: save it as .json, or make it NDJSON with jq -c '.[]'"
		}
		switch ext := filepath.Ext(name); {
		case name == "-":
			msg += " (standard input is read as NDJSON)"
		case ext != ".ndjson" && ext != ".jsonl":
			msg += " (read as NDJSON because of its name)"
		}
		msg += "; the rest of the file was not read"
	}
	return msg, true
}

// multiLine reports whether a line that is not valid JSON looks like the
// start of a JSON value spread over several lines.
func multiLine(line []byte) bool {
	t := bytes.TrimSpace(line)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return false
	}
	var v json.RawMessage
	err := json.Unmarshal(t, &v)
	var se *json.SyntaxError
	return errors.As(err, &se) && truncated(se)
}

// syntaxError describes a JSON syntax error by line and column (columns
// count bytes from 1). encoding/json's offset is just past the offending
// byte, or the length of the input when it ended too soon.
func syntaxError(doc []byte, oneLine bool) string {
	var v json.RawMessage
	err := json.Unmarshal(doc, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	pos := min(max(int(se.Offset)-1, 0), len(doc))
	if truncated(se) {
		pos = len(doc)
	}
	line := 1 + bytes.Count(doc[:pos], []byte{'\n'})
	col := pos - bytes.LastIndexByte(doc[:pos], '\n')
	if oneLine {
		return fmt.Sprintf("at column %d: %s", col, se.Error())
	}
	return fmt.Sprintf("at line %d, column %d: %s", line, col, se.Error())
}

// truncated reports whether the input ended before the JSON value did.
func truncated(se *json.SyntaxError) bool {
	return strings.HasPrefix(se.Error(), "unexpected end of JSON input")
}

func jsonKindOf(c byte) string {
	switch c {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "JSON null"
	}
	return "a JSON number"
}

func readDocument(name string, br io.Reader, maxLine int, send func(Item, []byte) bool) error {
	raw, err := io.ReadAll(io.LimitReader(br, int64(maxLine)+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if len(raw) > maxLine {
		send(Item{File: name, Entry: -1, Issues: []validators.Issue{issue(name, 0, fmt.Sprintf("the document is larger than %d bytes and was not validated", maxLine))}}, nil)
		return nil
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		send(Item{File: name, Entry: -1, Issues: []validators.Issue{issue(name, 0, "no resources: the file is empty")}}, nil)
		return nil
	}
	if !json.Valid(raw) {
		msg := "invalid JSON " + syntaxError(raw, false)
		if looksLikeNDJSON(raw) {
			msg += "; the file looks like NDJSON (one resource per line): name it .ndjson"
		}
		send(Item{File: name, Entry: -1, Issues: []validators.Issue{issue(name, 0, msg)}}, nil)
		return nil
	}
	if t := bytes.TrimSpace(raw); t[0] != '{' {
		send(Item{File: name, Entry: -1, Issues: []validators.Issue{issue(name, 0, "the document is "+jsonKindOf(t[0])+", not a resource (a JSON object)")}}, nil)
		return nil
	}
	typ, id := head(raw)
	if typ != "Bundle" {
		send(Item{File: name, Entry: -1, Type: typ, ID: id}, raw)
		return nil
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		// valid JSON of the wrong shape: the checks say what is wrong
		send(Item{File: name, Entry: -1, Type: typ, ID: id}, raw)
		return nil
	}
	n := 0
	for i, e := range b.Entry {
		if len(e.Resource) == 0 {
			continue
		}
		t, rid := head(e.Resource)
		send(Item{File: name, Entry: i, Type: t, ID: rid}, e.Resource)
		n++
	}
	if n == 0 {
		send(Item{File: name, Entry: -1, Type: typ, ID: id, Issues: []validators.Issue{issue(name, 0, "no resources: the Bundle has no entry with a resource")}}, nil)
	}
	return nil
}

// looksLikeNDJSON reports whether a document that is not valid JSON holds
// valid JSON objects line by line.
func looksLikeNDJSON(raw []byte) bool {
	lines := 0
	for l := range bytes.Lines(raw) {
		if t := bytes.TrimSpace(l); len(t) > 0 {
			if t[0] != '{' || !json.Valid(t) {
				return false
			}
			lines++
		}
	}
	return lines > 1
}

func issue(file string, line int, msg string) validators.Issue {
	return validators.Issue{Severity: validators.Error, Message: msg, File: file, Line: line, Rule: "input"}
}

// head reads resourceType and id from the top level of a JSON object
// without decoding the rest: it walks the top-level members, skipping their
// values, and stops once it has both. It runs on the one goroutine that
// reads the input, so it must cost little next to validation. Input that is
// not a JSON object gives empty strings (validation reports why).
func head(raw []byte) (typ, id string) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return "", ""
	}
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return typ, id
		}
		key, next, ok := jsonString(raw, i)
		if !ok {
			return typ, id
		}
		i = skipSpace(raw, next)
		if i >= len(raw) || raw[i] != ':' {
			return typ, id
		}
		i = skipSpace(raw, i+1)
		if (key == "resourceType" || key == "id") && i < len(raw) && raw[i] == '"' {
			v, next, ok := jsonString(raw, i)
			if !ok {
				return typ, id
			}
			if key == "id" {
				id = v
			} else {
				typ = v
			}
			i = next
		} else if i = skipValue(raw, i); i < 0 {
			return typ, id
		}
		if typ != "" && id != "" {
			return typ, id
		}
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] != ',' {
			return typ, id
		}
		i++
	}
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// jsonString reads the string starting at raw[i] (a quote) and returns it
// with the index after its closing quote.
func jsonString(raw []byte, i int) (string, int, bool) {
	escaped := false
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			if !escaped {
				return string(raw[i+1 : j]), j + 1, true
			}
			var s string
			if json.Unmarshal(raw[i:j+1], &s) != nil {
				return "", 0, false
			}
			return s, j + 1, true
		}
	}
	return "", 0, false
}

// skipValue returns the index after the JSON value starting at raw[i], or
// -1 when the input ends first. It checks nesting only as far as it needs
// to find the value's end.
func skipValue(raw []byte, i int) int {
	depth := 0
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			_, next, ok := jsonString(raw, i)
			if !ok {
				return -1
			}
			i = next - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return i // the end of the enclosing object: a bad value
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		if depth == 0 && (raw[i] == '}' || raw[i] == ']' || raw[i] == '"') {
			return i + 1
		}
	}
	return -1
}
