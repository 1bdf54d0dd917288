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
}

// Totals counts what was validated.
type Totals struct {
	Files, Resources, Errors, Warnings int
}

// Options tune a run.
type Options struct {
	// Workers validating at once; 0 means GOMAXPROCS.
	Workers int
	// MaxLine bounds one NDJSON line or JSON document; 0 means 64 MiB.
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
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	maxLine := o.MaxLine
	if maxLine <= 0 {
		maxLine = 64 << 20
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
		t.Resources++
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
	br := bufio.NewReaderSize(r, 1<<20)
	if filepath.Ext(name) == ".json" {
		return readDocument(name, br, maxLine, send)
	}
	return readNDJSON(ctx, name, br, maxLine, send)
}

func readNDJSON(ctx context.Context, name string, br *bufio.Reader, maxLine int, send func(Item, []byte) bool) error {
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br, maxLine)
		if len(bytes.TrimSpace(line)) > 0 || tooLong {
			it := Item{File: name, Line: n, Entry: -1}
			if tooLong {
				it.Issues = []validators.Issue{issue(name, n, fmt.Sprintf("the line is longer than %d bytes and was not validated", maxLine))}
				if !send(it, nil) {
					return ctx.Err()
				}
			} else {
				it.Type, it.ID = head(line)
				if !send(it, line) {
					return ctx.Err()
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s at line %d: %w", name, n, err)
		}
	}
}

// readLine reads one line, discarding (and reporting) what passes maxLine
// without holding it.
func readLine(br *bufio.Reader, maxLine int) ([]byte, bool, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > maxLine {
			// Skip to the end of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			return nil, true, err
		}
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, false, err
	}
}

func readDocument(name string, br *bufio.Reader, maxLine int, send func(Item, []byte) bool) error {
	raw, err := io.ReadAll(io.LimitReader(br, int64(maxLine)+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if len(raw) > maxLine {
		send(Item{File: name, Entry: -1, Issues: []validators.Issue{issue(name, 0, fmt.Sprintf("the document is larger than %d bytes and was not validated", maxLine))}}, nil)
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
		send(Item{File: name, Entry: -1, Type: typ, ID: id}, raw)
		return nil
	}
	for i, e := range b.Entry {
		if len(e.Resource) == 0 {
			continue
		}
		t, rid := head(e.Resource)
		send(Item{File: name, Entry: i, Type: t, ID: rid}, e.Resource)
	}
	return nil
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
