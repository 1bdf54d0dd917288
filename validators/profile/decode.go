package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSON parses a JSON document into the values encoding/json produces
// with UseNumber (map[string]any, []any, string, json.Number, bool, nil),
// in one pass: encoding/json scans every document twice and was a third of
// the cost of validating a resource. Duplicate object keys, which FHIR JSON
// forbids, are reported in dups (path-less: the property names).
func decodeJSON(data []byte) (v any, dups []string, err error) {
	d := &decoder{data: data}
	d.skipWS()
	v, err = d.value(0)
	if err != nil {
		return nil, nil, err
	}
	d.skipWS()
	if d.i < len(d.data) {
		return nil, nil, d.errorf("data after the JSON value")
	}
	return v, d.dups, nil
}

type decoder struct {
	data []byte
	i    int
	dups []string
	// keys remembers property names: a resource repeats a few dozen names
	// hundreds of times, and each would otherwise be a new string.
	keys [256]string
}

// maxDepth bounds nesting, whatever the caller checked before (Decode
// applies jsonscan's limits first): the decoder recurses once per level.
const maxDepth = 512

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", d.i, fmt.Sprintf(format, args...))
}

func (d *decoder) skipWS() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested too deeply")
	}
	if d.i >= len(d.data) {
		return nil, d.errorf("unexpected end of JSON")
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	default:
		return nil, d.errorf("unexpected character %q", c)
	}
}

func (d *decoder) literal(s string) error {
	if len(d.data)-d.i < len(s) || string(d.data[d.i:d.i+len(s)]) != s {
		return d.errorf("invalid literal")
	}
	d.i += len(s)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.i++ // {
	m := make(map[string]any)
	d.skipWS()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.skipWS()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, d.errorf("expected a property name")
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		d.skipWS()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, d.errorf("expected ':'")
		}
		d.i++
		d.skipWS()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			d.dups = append(d.dups, k)
		}
		m[k] = v
		d.skipWS()
		if d.i >= len(d.data) {
			return nil, d.errorf("unexpected end of JSON in an object")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, d.errorf("expected ',' or '}'")
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.i++ // [
	a := make([]any, 0, 4)
	d.skipWS()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.skipWS()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipWS()
		if d.i >= len(d.data) {
			return nil, d.errorf("unexpected end of JSON in an array")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.errorf("expected ',' or ']'")
		}
	}
}

func (d *decoder) number() (any, error) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	intStart := d.i
	if n := digits(); n == 0 {
		return nil, d.errorf("invalid number")
	} else if n > 1 && d.data[intStart] == '0' {
		return nil, d.errorf("invalid number: leading zero")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	return json.Number(d.data[start:d.i]), nil
}

// key reads a property name, reusing the string of an earlier equal name.
func (d *decoder) key() (string, error) {
	start := d.i + 1
	h := uint32(2166136261)
	for j := start; j < len(d.data); j++ {
		c := d.data[j]
		if c == '"' {
			name := d.data[start:j]
			slot := &d.keys[h&255]
			if *slot == string(name) {
				d.i = j + 1
				return *slot, nil
			}
			s, err := d.str()
			if err == nil {
				*slot = s
			}
			return s, err
		}
		if c == '\\' || c >= 0x80 {
			break
		}
		h = (h ^ uint32(c)) * 16777619
	}
	return d.str()
}

var errBadEscape = errors.New("invalid escape in a JSON string")

// str reads a JSON string at d.data[d.i] == '"'.
func (d *decoder) str() (string, error) {
	d.i++
	start := d.i
	high := false
	// fast path: no escapes
	for d.i < len(d.data) {
		c := d.data[d.i]
		if c == '"' {
			seg := d.data[start:d.i]
			d.i++
			if high && !utf8.Valid(seg) {
				// as encoding/json does: invalid UTF-8 becomes U+FFFD
				return strings.ToValidUTF8(string(seg), "\uFFFD"), nil
			}
			return string(seg), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		high = high || c >= 0x80
		d.i++
	}
	buf := make([]byte, 0, d.i-start+64)
	buf = append(buf, d.data[start:d.i]...)
	for d.i < len(d.data) {
		// copy the run up to the next quote, escape or control character
		run := d.i
		for d.i < len(d.data) {
			c := d.data[d.i]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			high = high || c >= 0x80
			d.i++
		}
		buf = append(buf, d.data[run:d.i]...)
		if d.i >= len(d.data) {
			break
		}
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			if high && !utf8.Valid(buf) {
				return strings.ToValidUTF8(string(buf), "\uFFFD"), nil
			}
			return string(buf), nil
		case c < 0x20:
			return "", d.errorf("control character in a JSON string")
		}
		// an escape
		if d.i+1 >= len(d.data) {
			return "", errBadEscape
		}
		d.i++
		switch e := d.data[d.i]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4(d.i + 1)
			if !ok {
				return "", errBadEscape
			}
			d.i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if d.i+6 < len(d.data) && d.data[d.i+1] == '\\' && d.data[d.i+2] == 'u' {
					r2, ok = d.hex4(d.i + 3)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					d.i += 6
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", errBadEscape
		}
		d.i++
	}
	return "", d.errorf("unterminated JSON string")
}

func (d *decoder) hex4(at int) (rune, bool) {
	if at+4 > len(d.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.data[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
