package profile

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkPrimitive checks a primitive value's JSON kind and lexical form
// against the R4 rules for its type, by hand rather than with the regular
// expressions of the definitions: this runs for every primitive of every
// resource. It returns "" when the value is valid.
func checkPrimitive(typ string, v any) string {
	switch typ {
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "expected a JSON boolean, found " + jsonKind(v)
		}
		return ""
	case "integer", "positiveInt", "unsignedInt":
		n, ok := v.(json.Number)
		if !ok {
			if f, isF := v.(float64); isF {
				n = json.Number(strconv.FormatFloat(f, 'f', -1, 64))
			} else {
				return "expected a JSON number for " + typ + ", found " + jsonKind(v)
			}
		}
		i, err := strconv.ParseInt(string(n), 10, 32)
		if err != nil {
			return fmt.Sprintf("%s is not a valid %s", n, typ)
		}
		if typ == "positiveInt" && i < 1 {
			return fmt.Sprintf("%s is not a positiveInt (must be at least 1)", n)
		}
		if typ == "unsignedInt" && i < 0 {
			return fmt.Sprintf("%s is not an unsignedInt (must not be negative)", n)
		}
		return ""
	case "decimal":
		switch n := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(n), 64); err != nil {
				return fmt.Sprintf("%s is not a valid decimal", n)
			}
			return ""
		case float64:
			return ""
		}
		return "expected a JSON number for decimal, found " + jsonKind(v)
	}
	s, ok := v.(string)
	if !ok {
		return "expected a JSON string for " + typ + ", found " + jsonKind(v)
	}
	if s == "" {
		return "empty string: a value must have content, or the element be left out"
	}
	if !utf8.ValidString(s) {
		return "value is not valid UTF-8"
	}
	switch typ {
	case "string", "markdown":
		if strings.Trim(s, asciiSpace) == "" {
			return "string has only whitespace"
		}
	case "code":
		// The definition's pattern is [^\s]+(\s[^\s]+)*, with \s the
		// ASCII whitespace of the regular expressions FHIR uses.
		if strings.Trim(s, asciiSpace) != s || strings.Contains(s, "  ") || strings.ContainsAny(s, "\t\n\r\f\v") {
			return fmt.Sprintf("code %q has leading, trailing or repeated whitespace", s)
		}
	case "id":
		if len(s) > 64 {
			return fmt.Sprintf("id %q is longer than 64 characters", s)
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return fmt.Sprintf("id %q has a character other than A-Z, a-z, 0-9, '-' and '.'", s)
			}
		}
	case "uri", "url", "canonical":
		if strings.ContainsAny(s, " \t\n\r") {
			return fmt.Sprintf("%s %q contains whitespace", typ, s)
		}
	case "oid":
		if !validOID(s) {
			return fmt.Sprintf("oid %q is not of the form urn:oid:1.2.3", s)
		}
	case "uuid":
		if !validUUID(s) {
			return fmt.Sprintf("uuid %q is not of the form urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
		}
	case "date":
		if !validDate(s) {
			return fmt.Sprintf("%q is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)", s)
		}
	case "dateTime":
		if !validDateTime(s, false) {
			return fmt.Sprintf("%q is not a valid dateTime", s)
		}
	case "instant":
		if !validDateTime(s, true) {
			return fmt.Sprintf("%q is not a valid instant (a full date and time with a time zone)", s)
		}
	case "time":
		if !validTime(s) {
			return fmt.Sprintf("%q is not a valid time (hh:mm:ss)", s)
		}
	case "base64Binary":
		if !validBase64(s) {
			return "value is not valid base64"
		}
	case "xhtml":
		t := strings.TrimSpace(s)
		if !strings.HasPrefix(t, "<div") || !strings.HasSuffix(t, "</div>") && !strings.HasSuffix(t, "/>") {
			return "narrative must be an XHTML <div> element"
		}
	}
	return ""
}

const asciiSpace = " \t\n\r\f\v"

func validOID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:oid:")
	if !ok || rest == "" {
		return false
	}
	for _, part := range strings.Split(rest, ".") {
		if part == "" || !isDigits(part) || len(part) > 1 && part[0] == '0' {
			return false
		}
	}
	return rest[0] == '0' || rest[0] == '1' || rest[0] == '2'
}

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
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
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

// validDate accepts YYYY, YYYY-MM and YYYY-MM-DD with valid month and day.
func validDate(s string) bool {
	switch len(s) {
	case 4:
		return digitsAt(s, 0, 4)
	case 7:
		return digitsAt(s, 0, 4) && s[4] == '-' && validMonth(s[5:7])
	case 10:
		return digitsAt(s, 0, 4) && s[4] == '-' && validMonth(s[5:7]) && s[7] == '-' && validDay(s[0:4], s[5:7], s[8:10])
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

// validDateTime accepts a date, or a date with a time and a time zone
// (seconds required, fractions optional). An instant must have the time.
func validDateTime(s string, instant bool) bool {
	date, rest, hasT := strings.Cut(s, "T")
	if !hasT {
		return !instant && validDate(s)
	}
	if len(date) != 10 || !validDate(date) {
		return false
	}
	// time zone
	var clock string
	switch {
	case strings.HasSuffix(rest, "Z"):
		clock = rest[:len(rest)-1]
	case len(rest) > 6 && (rest[len(rest)-6] == '+' || rest[len(rest)-6] == '-'):
		tz := rest[len(rest)-5:]
		if !digitsAt(tz, 0, 2) || tz[2] != ':' || !digitsAt(tz, 3, 2) {
			return false
		}
		if h, _ := strconv.Atoi(tz[:2]); h > 14 {
			return false
		}
		clock = rest[:len(rest)-6]
	default:
		return false
	}
	return validTime(clock)
}

// validTime accepts hh:mm:ss with optional fractional seconds.
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

// validBase64 accepts standard base64, ignoring whitespace as XML-derived
// content may carry line breaks.
func validBase64(s string) bool {
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}
