// Package jsonscan checks, in one pass over the bytes and without decoding
// them, that a JSON text is within what the validators read: nested no
// deeper, and holding no more values, than real resources do, and UTF-8
// in its strings. Hostile input (a hundred thousand levels of nesting, a
// million-item array) is refused with a clear error before any decoder
// spends stack or memory on it.
package jsonscan

import (
	"fmt"
	"unicode/utf8"
)

// Limits bound a JSON text. The defaults sit well above the largest of the
// official examples (hl7.fhir.r4.examples' Bundle-dataelements.json: 477,600
// values, 96,231 objects, nesting a dozen levels), and bound the memory a
// decoded resource takes (an empty object decodes to a few hundred bytes).
type Limits struct {
	Depth   int // nesting of arrays and objects
	Values  int // values of any kind, containers included
	Objects int
}

// Default are the limits the validators apply.
var Default = Limits{Depth: 512, Values: 1_000_000, Objects: 250_000}

// Error is a JSON text beyond a limit or not UTF-8.
type Error struct {
	Offset int // byte offset where the scan stopped
	What   string
}

func (e *Error) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.What) }

// Check scans data against the limits. It does not check the JSON
// grammar: a decoder does that, within the limits once Check passes.
func (l Limits) Check(data []byte) error {
	depth, values, objects := 0, 0, 0
	for i := 0; i < len(data); i++ {
		at := i // where the value starts
		switch c := data[i]; c {
		case '"':
			values++
			start := i + 1
			ascii := true
			for i++; i < len(data) && data[i] != '"'; i++ {
				switch {
				case data[i] == '\\':
					i++
				case data[i] >= 0x80:
					ascii = false
				}
			}
			if !ascii && i <= len(data) && !utf8.Valid(data[start:min(i, len(data))]) {
				off := start
				for off < i {
					r, n := utf8.DecodeRune(data[off:i])
					if r == utf8.RuneError && n <= 1 {
						break
					}
					off += n
				}
				return &Error{off, "a string is not valid UTF-8 (JSON text is UTF-8: RFC 8259 §8.1)"}
			}
		case '{', '[':
			values++
			depth++
			if c == '{' {
				objects++
				if objects > l.Objects {
					return &Error{i, fmt.Sprintf("more than %d objects: too large to validate", l.Objects)}
				}
			}
			if depth > l.Depth {
				return &Error{i, fmt.Sprintf("nested more than %d levels deep", l.Depth)}
			}
		case '}', ']':
			depth--
		case ',', ':', ' ', '\t', '\n', '\r':
		default:
			// the first byte of a number or a literal; the rest of it
			// are skipped here
			values++
			for i+1 < len(data) && !isDelim(data[i+1]) {
				i++
			}
		}
		if values > l.Values {
			return &Error{at, fmt.Sprintf("more than %d values: too large to validate", l.Values)}
		}
	}
	return nil
}

func isDelim(c byte) bool {
	switch c {
	case ',', ':', ' ', '\t', '\n', '\r', '{', '}', '[', ']', '"':
		return true
	}
	return false
}
