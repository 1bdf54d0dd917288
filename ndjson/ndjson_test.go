package ndjson

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

type got struct {
	line    int
	text    string
	tooLong bool
}

func readAll(t testing.TB, in string, maxLine int) []got {
	t.Helper()
	r := NewReader(strings.NewReader(in), maxLine)
	var out []got
	for {
		n, b, err := r.Next()
		var tl *LineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			return out
		case errors.As(err, &tl):
			if tl.Line != n || tl.Max <= 0 || b != nil {
				t.Fatalf("too long: line %d, error %v, bytes %q", n, err, b)
			}
			out = append(out, got{line: n, tooLong: true})
		case err != nil:
			t.Fatalf("unexpected error: %v", err)
		default:
			out = append(out, got{line: n, text: string(b)})
		}
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []got
	}{
		{"empty", "", 0, nil},
		{"only blank lines", "\n  \n\t\r\n", 0, nil},
		{"two lines", "{\"a\":1}\n{\"b\":2}\n", 0, []got{{1, `{"a":1}`, false}, {2, `{"b":2}`, false}}},
		{"last line without newline", "{\"a\":1}\n{\"b\":2}", 0, []got{{1, `{"a":1}`, false}, {2, `{"b":2}`, false}}},
		{"CRLF", "{\"a\":1}\r\n{\"b\":2}\r\n", 0, []got{{1, `{"a":1}`, false}, {2, `{"b":2}`, false}}},
		{"blank lines keep their numbers", "\n{\"a\":1}\n\n\n{\"b\":2}\n", 0, []got{{2, `{"a":1}`, false}, {5, `{"b":2}`, false}}},
		{"line at the bound", "12345\n", 5, []got{{1, "12345", false}}},
		{"line at the bound with CRLF", "12345\r\n6\r\n", 5, []got{{1, "12345", false}, {2, "6", false}}},
		{"line over the bound, then more", "123456\n7\n", 5, []got{{1, "", true}, {2, "7", false}}},
		{"last line over the bound without newline", "1\n123456", 5, []got{{1, "1", false}, {2, "", true}}},
		{"line far over the buffer", "1\n" + strings.Repeat("x", 100) + "\n2", 16, []got{{1, "1", false}, {2, "", true}, {3, "2", false}}},
		// Under the default bound the read buffer (64 KiB) is smaller than
		// a line may be: a longer line is gathered whole.
		{"line longer than the read buffer", "1\n" + strings.Repeat("y", 200<<10) + "\n2\n", 0, []got{{1, "1", false}, {2, strings.Repeat("y", 200<<10), false}, {3, "2", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := readAll(t, tt.in, tt.max)
			if len(out) != len(tt.want) {
				t.Fatalf("got %v, want %v", out, tt.want)
			}
			for i := range out {
				if out[i] != tt.want[i] {
					t.Errorf("item %d: got %+v, want %+v", i, out[i], tt.want[i])
				}
			}
		})
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		f.n++
		return copy(p, "{\"a\":1}\n{\"b\""), nil
	}
	return 0, errors.New("connection reset")
}

func TestReaderError(t *testing.T) {
	r := NewReader(&failingReader{}, 0)
	if n, b, err := r.Next(); err != nil || n != 1 || string(b) != `{"a":1}` {
		t.Fatalf("first line: %d %q %v", n, b, err)
	}
	_, _, err := r.Next()
	if err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("want the read error naming line 2, got %v", err)
	}
	if _, _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after an error reading ends, got %v", err)
	}
}

// FuzzReader checks the reader against a plain split of the input: the
// same non-blank lines, in order, with their numbers, and every line over
// the bound reported as too long.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"resourceType\":\"Patient\"}\n{\"resourceType\":\"Patient\"}"), 0)
	f.Add([]byte("\r\n\r\n{}\r\n"), 3)
	f.Add([]byte("\n\n\n"), 1)
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nb\r\nc"), 8)
	f.Fuzz(func(t *testing.T, in []byte, maxLine int) {
		// Bounds up to 64 KiB: the default bound (64 MiB, TestReader) would
		// give every call a 1 MiB buffer and starve the fuzzer.
		if maxLine <= 0 || maxLine > 1<<16 {
			maxLine = 1 << 16
		}
		limit := maxLine
		var want []got
		lines := bytes.Split(in, []byte{'\n'})
		for i, l := range lines {
			if i == len(lines)-1 && len(l) == 0 {
				break // the final newline ends the last line
			}
			l = bytes.TrimSuffix(l, []byte{'\r'})
			switch {
			case len(l) > limit:
				want = append(want, got{line: i + 1, tooLong: true})
			case len(bytes.TrimSpace(l)) > 0:
				want = append(want, got{line: i + 1, text: string(l)})
			}
		}
		out := readAll(t, string(in), maxLine)
		if len(out) != len(want) {
			t.Fatalf("got %d lines, want %d:\n%v\n%v", len(out), len(want), out, want)
		}
		for i := range out {
			if out[i] != want[i] {
				t.Fatalf("line %d: got %+v, want %+v", i, out[i], want[i])
			}
		}
	})
}

// TestOffset: each line read again from its Offset is the line, whatever
// the line endings, blank lines and too-long lines before it.
func TestOffset(t *testing.T) {
	in := "{\"a\":1}\r\n\n   \n{\"b\":22}\n" + strings.Repeat("x", 40) + "\n  {\"c\":333}"
	r := NewReader(strings.NewReader(in), 20)
	var got []string
	for {
		_, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooLong *LineTooLongError
		if errors.As(err, &tooLong) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		off := r.Offset()
		if again := in[off : off+int64(len(line))]; again != string(line) {
			t.Errorf("line %q read again from offset %d as %q", line, off, again)
		}
		got = append(got, string(line))
	}
	if want := []string{`{"a":1}`, `{"b":22}`, `  {"c":333}`}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}
