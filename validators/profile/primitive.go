package profile

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A primitive's lexical rules come from its R4 definition: the regular
// expression on the definition's value element (the "regex" type
// extension of StructureDefinition-<type>.json), plus what the R4 pages
// add to it: JSON string values are never empty (json.html, "String
// property values can never be empty"); dates are valid calendar dates
// (datatypes.html, "Dates SHALL be valid dates"); integer, unsignedInt and
// positiveInt are 32-bit (datatypes.html and the integer definition's
// comment); base64Binary is RFC 4648 base64 (datatypes.html), so padding
// only ends it. TestPrimitivesFollowDefinitions compares these checks with
// the regular expressions read from the package.
//
// They are written by hand rather than run as regular expressions: this
// runs for every primitive of every resource.

// primitiveProblem is what is wrong with a primitive value; warning marks a
// SHOULD of the specification rather than a SHALL.
type primitiveProblem struct {
	msg     string
	warning bool
}

func bad(format string, args ...any) primitiveProblem {
	return primitiveProblem{msg: fmt.Sprintf(format, args...)}
}

// checkPrimitive checks a primitive value's JSON kind and lexical form
// against the R4 rules for its type. It returns the zero problem (msg "")
// when the value is valid.
func checkPrimitive(typ string, v any) primitiveProblem {
	switch typ {
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("expected a JSON boolean, found %s", jsonKind(v))
		}
		return primitiveProblem{}
	case "integer", "positiveInt", "unsignedInt":
		return checkInteger(typ, v)
	case "decimal":
		switch n := v.(type) {
		case json.Number:
			// The JSON number grammar is the decimal definition's regular
			// expression, and the decoder admits nothing else; a decimal
			// has no range ("a true decimal, with inbuilt precision").
			if !validJSONNumber(string(n)) {
				return bad("%s is not a valid decimal", n)
			}
			return primitiveProblem{}
		case float64:
			return primitiveProblem{}
		}
		return bad("expected a JSON number for decimal, found %s", jsonKind(v))
	}
	s, ok := v.(string)
	if !ok {
		return bad("expected a JSON string for %s, found %s", typ, jsonKind(v))
	}
	if s == "" {
		return bad("empty string: a value must have content, or the element be left out")
	}
	if !utf8.ValidString(s) {
		return bad("value is not valid UTF-8")
	}
	switch typ {
	case "string", "markdown":
		// [ \r\n\t\S]+
		if i := strings.IndexByte(s, '\f'); i >= 0 {
			return bad("%s has a form feed at position %d, which the definition does not allow", typ, i)
		}
		if strings.Trim(s, " \t\n\r") == "" {
			return primitiveProblem{msg: "string has only whitespace (strings SHOULD have non-whitespace content)", warning: true}
		}
	case "code":
		// [^\s]+(\s[^\s]+)*
		for i := 0; i < len(s); i++ {
			if reSpace(s[i]) && (i == 0 || i == len(s)-1 || reSpace(s[i-1])) {
				return bad("code %q has leading, trailing or repeated whitespace", s)
			}
		}
	case "id":
		// [A-Za-z0-9\-\.]{1,64}
		if len(s) > 64 {
			return bad("id %q is longer than 64 characters", clip(s))
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return bad("id %q has a character other than A-Z, a-z, 0-9, '-' and '.'", clip(s))
			}
		}
	case "uri", "url", "canonical":
		// \S*
		for i := 0; i < len(s); i++ {
			if reSpace(s[i]) {
				return bad("%s %q contains whitespace", typ, clip(s))
			}
		}
	case "oid":
		if !validOID(s) {
			return bad("oid %q is not of the form urn:oid:1.2.3", clip(s))
		}
	case "uuid":
		if !validUUID(s) {
			return bad("uuid %q is not of the form urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (lower-case hexadecimal)", clip(s))
		}
	case "date":
		if !validDate(s) {
			return bad("%q is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)", clip(s))
		}
	case "dateTime":
		if !validDateTime(s, false) {
			return bad("%q is not a valid dateTime", clip(s))
		}
	case "instant":
		if !validDateTime(s, true) {
			return bad("%q is not a valid instant (a full date and time with a time zone)", clip(s))
		}
	case "time":
		if !validTime(s) {
			return bad("%q is not a valid time (hh:mm:ss)", clip(s))
		}
	case "base64Binary":
		if why := base64Problem(s); why != "" {
			return bad("value is not valid base64: %s", why)
		}
	case "xhtml":
		t := strings.TrimSpace(s)
		if !strings.HasPrefix(t, "<div") || !strings.HasSuffix(t, "</div>") && !strings.HasSuffix(t, "/>") {
			return bad("narrative must be an XHTML <div> element")
		}
	}
	return primitiveProblem{}
}

// reSpace is \s in the definitions' regular expressions as Go's regexp
// reads them: tab, line feed, form feed, carriage return and space.
func reSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	i := 80
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// checkInteger checks the three integer types: a JSON number matching
// -?([0]|([1-9][0-9]*)) (integer), [0]|([1-9][0-9]*) (unsignedInt) or
// [1-9][0-9]* (positiveInt), within 32 bits.
func checkInteger(typ string, v any) primitiveProblem {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = string(n)
	case float64:
		s = strconv.FormatFloat(n, 'f', -1, 64)
	default:
		return bad("expected a JSON number for %s, found %s", typ, jsonKind(v))
	}
	digits := strings.TrimPrefix(s, "-")
	neg := len(digits) < len(s)
	if !isDigits(digits) || len(digits) > 1 && digits[0] == '0' {
		return bad("%s is not a valid %s (a whole number without fraction or exponent)", clip(s), typ)
	}
	if len(digits) > 10 {
		return bad("%s is out of the range of %s (32 bits)", clip(s), typ)
	}
	i, _ := strconv.ParseInt(s, 10, 64)
	switch {
	case typ == "positiveInt" && (neg || i < 1):
		return bad("%s is not a positiveInt (must be at least 1)", s)
	case typ == "unsignedInt" && neg:
		return bad("%s is not an unsignedInt (must not be negative)", s)
	case i > 1<<31-1 || i < -1<<31 || typ != "integer" && i > 1<<31-1:
		return bad("%s is out of the range of %s (32 bits)", s, typ)
	}
	return primitiveProblem{}
}

// validJSONNumber reports whether s matches the JSON number grammar, which
// is also the decimal definition's -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func validJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start || i-start > 1 && s[start] == '0' {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		f := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == f {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		e := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == e {
			return false
		}
	}
	return i == len(s)
}

// validOID follows urn:oid:[0-2](\.(0|[1-9][0-9]*))+.
func validOID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:oid:")
	if !ok || len(rest) < 3 || rest[0] < '0' || rest[0] > '2' || rest[1] != '.' {
		return false
	}
	for _, part := range strings.Split(rest[2:], ".") {
		if !isDigits(part) || len(part) > 1 && part[0] == '0' {
			return false
		}
	}
	return true
}

// validUUID follows urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}.
func validUUID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:uuid:")
	if !ok || len(rest) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := rest[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func digitsAt(s string, i, n int) bool {
	return i+n <= len(s) && isDigits(s[i:i+n])
}

// validYear follows ([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000):
// four digits, not 0000.
func validYear(s string) bool { return digitsAt(s, 0, 4) && len(s) >= 4 && s[:4] != "0000" }

// validDate accepts YYYY, YYYY-MM and YYYY-MM-DD with valid month and day.
func validDate(s string) bool {
	switch len(s) {
	case 4:
		return validYear(s)
	case 7:
		return validYear(s) && s[4] == '-' && validMonth(s[5:7])
	case 10:
		return validYear(s) && s[4] == '-' && validMonth(s[5:7]) && s[7] == '-' && validDay(s[0:4], s[5:7], s[8:10])
	}
	return false
}

func validMonth(m string) bool {
	if !isDigits(m) {
		return false
	}
	n, _ := strconv.Atoi(m)
	return n >= 1 && n <= 12
}

func validDay(y, m, d string) bool {
	if !isDigits(d) {
		return false
	}
	year, _ := strconv.Atoi(y)
	month, _ := strconv.Atoi(m)
	day, _ := strconv.Atoi(d)
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && (year%4 == 0 && year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day >= 1 && day <= days
}

// validDateTime accepts a date, or a full date with a time and a time zone
// (seconds required, fractions optional). An instant must have the time.
func validDateTime(s string, instant bool) bool {
	date, rest, hasT := strings.Cut(s, "T")
	if !hasT {
		return !instant && validDate(s)
	}
	if len(date) != 10 || !validDate(date) {
		return false
	}
	// the time zone: Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)
	var clock string
	switch {
	case strings.HasSuffix(rest, "Z"):
		clock = rest[:len(rest)-1]
	case len(rest) > 6 && (rest[len(rest)-6] == '+' || rest[len(rest)-6] == '-'):
		tz := rest[len(rest)-5:]
		if !digitsAt(tz, 0, 2) || tz[2] != ':' || !digitsAt(tz, 3, 2) || tz[3] > '5' {
			return false
		}
		if h := tz[:2]; h > "14" || h == "14" && tz[3:] != "00" {
			return false
		}
		clock = rest[:len(rest)-6]
	default:
		return false
	}
	return validTime(clock)
}

// validTime follows ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?.
func validTime(s string) bool {
	if len(s) < 8 || !digitsAt(s, 0, 2) || s[2] != ':' || !digitsAt(s, 3, 2) || s[5] != ':' || !digitsAt(s, 6, 2) {
		return false
	}
	h, _ := strconv.Atoi(s[0:2])
	m, _ := strconv.Atoi(s[3:5])
	sec, _ := strconv.Atoi(s[6:8])
	if h > 23 || m > 59 || sec > 60 {
		return false
	}
	if len(s) == 8 {
		return true
	}
	return s[8] == '.' && isDigits(s[9:])
}

// base64Problem says why s is not base64Binary, or returns "". The
// definition's (\s*([0-9a-zA-Z\+/=]){4}\s*)+ admits groups of four
// characters of the alphabet and '=', with whitespace between groups; RFC
// 4648 (datatypes.html) adds that '=' only pads the last group. The value
// is not decoded: attachments can be large.
func base64Problem(s string) string {
	n, pad := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case reSpace(c):
			if n%4 != 0 {
				return fmt.Sprintf("whitespace at position %d inside a group of four characters", i)
			}
			continue
		case c == '=':
			pad++
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/':
			if pad > 0 {
				return "'=' padding before the end"
			}
		default:
			return fmt.Sprintf("%q at position %d is not a base64 character", c, i)
		}
		n++
	}
	switch {
	case n == 0:
		return "no base64 characters"
	case n%4 != 0:
		return fmt.Sprintf("%d characters, not a multiple of 4", n)
	case pad > 2:
		return "more than two '=' at the end"
	}
	return ""
}
