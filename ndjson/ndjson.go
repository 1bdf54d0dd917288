// Package ndjson reads newline-delimited JSON (application/fhir+ndjson, the
// Bulk Data file format) line by line, in bounded memory: one resource per
// line, blank lines skipped, "\n" or "\r\n" line endings, and a last line
// with or without a newline. It does not decode the JSON; callers do.
package ndjson

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLine bounds one line when the caller gives no bound: far above
// any real FHIR resource, far below what would exhaust memory.
const DefaultMaxLine = 64 << 20

// LineTooLongError reports a line longer than the reader's bound. The
// reader has skipped past it without holding it; reading may go on.
type LineTooLongError struct {
	Line int // 1-based line number
	Max  int // the bound, in bytes
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line %d is longer than %d bytes", e.Line, e.Max)
}

// Reader yields the non-blank lines of an NDJSON stream with their line
// numbers.
type Reader struct {
	br   *bufio.Reader
	max  int
	n    int // lines read so far
	buf  []byte
	done bool
	// pos is how many bytes have been consumed; start is where the line
	// Next returned last begins.
	pos, start int64
}

// NewReader reads r with lines bounded to maxLine bytes (line ending
// excluded; maxLine <= 0 means DefaultMaxLine).
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	// Lines longer than the buffer are gathered in r.buf (readLine): the
	// buffer only sets how much is read at once. 64 KiB reads files at
	// full speed, and a reader per small file (exports hold many) costs
	// little to make.
	size := 64 << 10
	if maxLine < size {
		size = max(maxLine+2, 16)
	}
	return &Reader{br: bufio.NewReaderSize(r, size), max: maxLine}
}

// Next returns the next non-blank line without its line ending, and its
// 1-based number. The bytes are valid until the following call. At the end
// it returns io.EOF. A line over the bound gives a *LineTooLongError (and no
// bytes); the next call continues after it. Any other error ends reading.
func (r *Reader) Next() (int, []byte, error) {
	for {
		if r.done {
			return r.n, nil, io.EOF
		}
		r.start = r.pos
		line, tooLong, err := r.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			r.done = true
			return r.n, nil, fmt.Errorf("reading line %d: %w", r.n+1, err)
		}
		eof := err != nil
		if eof && len(line) == 0 && !tooLong {
			r.done = true
			return r.n, nil, io.EOF
		}
		r.n++
		if eof {
			r.done = true
		}
		if tooLong {
			return r.n, nil, &LineTooLongError{Line: r.n, Max: r.max}
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return r.n, line, nil
	}
}

// Line is the number of the last line read (blank lines included).
func (r *Reader) Line() int { return r.n }

// Offset is the byte offset in the stream at which the line Next returned
// last begins: reading len(line) bytes from there gives the line again.
func (r *Reader) Offset() int64 { return r.start }

// readLine reads one line with its ending into r.buf. Past the bound it
// discards the rest of the line without holding it and reports tooLong.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	// The bound counts content; its line ending may take two more bytes.
	limit := r.max + 2
	for {
		frag, err := r.br.ReadSlice('\n')
		r.pos += int64(len(frag))
		if len(r.buf)+len(frag) > limit {
			for errors.Is(err, bufio.ErrBufferFull) {
				frag, err = r.br.ReadSlice('\n')
				r.pos += int64(len(frag))
			}
			return nil, true, err
		}
		r.buf = append(r.buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if content := bytes.TrimSuffix(bytes.TrimSuffix(r.buf, []byte{'\n'}), []byte{'\r'}); len(content) > r.max {
			return nil, true, err
		}
		return r.buf, false, err
	}
}
