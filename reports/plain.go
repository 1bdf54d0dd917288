package reports

import (
	"regexp"
	"strconv"
	"strings"
)

// maxValue bounds one value quoted in a plain-words summary; the full
// message stays available beside it.
const maxValue = 160

// typePrefix is the "<type | details>: " Gomega writes before a value.
var typePrefix = regexp.MustCompile(`^<([^>]*)>:\s?`)

// PlainFailure turns a failure message into what the console and the HTML
// report show: a spec's own sentence stays as it is; a Gomega assertion's
// message becomes its annotation (the spec's explanation) followed by what
// was found and what was wanted in words ("(got 404; wanted 202)"), without
// Go type annotations, pointer addresses, struct dumps or matcher jargon. The
// raw message stays in the JSON results for developers.
func PlainFailure(msg string) string {
	msg = strings.TrimSpace(msg)
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if !gomegaNote(l) {
			lines = append(lines, l)
		}
	}
	msg = strings.TrimSpace(strings.Join(lines, "\n"))
	start := -1
	for i, l := range lines {
		if l == "Expected" || l == "Unexpected error:" || strings.HasPrefix(l, "Expected ") && !indented(l) {
			start = i
			break
		}
	}
	if start < 0 {
		return msg
	}
	annotation := strings.TrimSpace(strings.Join(lines[:start], "\n"))
	// words are the unindented lines (matcher phrases), values the indented
	// blocks, in order.
	var words, values []string
	for i := start; i < len(lines); {
		l := lines[i]
		if !indented(l) {
			if w := strings.TrimSpace(l); w != "" {
				words = append(words, w)
			}
			i++
			continue
		}
		j := i
		for j < len(lines) && (indented(lines[j]) || strings.TrimSpace(lines[j]) == "") {
			j++
		}
		values = append(values, plainValue(lines[i:j]))
		i = j
	}
	said := plainAssertion(words, values)
	switch {
	case annotation == "" && said == "":
		return msg
	case annotation == "":
		return upperFirst(said) + "."
	case said == "":
		return annotation
	}
	return annotation + " (" + said + ")"
}

// plainAssertion says what an assertion found and wanted.
func plainAssertion(words, values []string) string {
	if len(words) > 0 && words[0] == "Unexpected error:" {
		if len(values) > 0 {
			return "error: " + values[0]
		}
		return "an error"
	}
	if len(words) < 2 || len(values) == 0 {
		return strings.Join(append(words, values...), " ")
	}
	got := values[0]
	phrase := words[1]
	want := ""
	if len(values) > 1 {
		want = values[1]
	}
	switch phrase {
	case "to be true", "to be false":
		// The annotation says what should hold; "got false" adds nothing.
		return ""
	case "to succeed", "not to have occurred", "to be nil", "not to be nil":
		return "got " + got
	case "to equal":
		return "got " + got + "; wanted " + want
	case "not to equal":
		return "got " + got + ", which it must not be"
	case "to be empty":
		return "found " + got + "; wanted none"
	case "not to be empty":
		return "found none"
	case "to have key":
		return "no " + want + " in " + got
	case "to be zero":
		return "got " + got + "; wanted 0"
	}
	return strings.TrimSpace("got " + got + "; wanted it " + strings.TrimPrefix(phrase, "to ") + " " + want)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// gomegaNote reports whether a line is Gomega's advice to developers (its
// note on truncated values and where to read about it).
func gomegaNote(l string) bool {
	t := strings.TrimSpace(l)
	for _, p := range []string{"Gomega truncated this representation", "Consider having the object provide a custom",
		"or adjust the parameters in Gomega", "Learn more here: https://onsi.github.io/gomega"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func indented(l string) bool {
	return strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "\t")
}

// plainValue renders one indented value block of a Gomega message.
func plainValue(block []string) string {
	first := strings.TrimSpace(block[0])
	typ := ""
	if m := typePrefix.FindStringSubmatch(first); m != nil {
		typ = m[1]
		first = strings.TrimSpace(first[len(m[0]):])
	}
	if first == "" && len(block) > 1 {
		// An error: "<*T | 0x…>: " then its message, then a struct dump.
		var msg []string
		for _, l := range block[1:] {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "{") || t == "" {
				break
			}
			msg = append(msg, t)
		}
		return clip(strings.Join(msg, " "))
	}
	if m := lenAnnotation.FindStringSubmatch(typ); m != nil && (strings.HasPrefix(first, "[") || strings.HasPrefix(first, "{")) {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 5 {
			// A long list shown whole, or cut by Gomega: its size says
			// more than its start.
			return m[1] + " entries"
		}
	}
	if open := first[len(first)-min(len(first), 1):]; open == "{" || open == "[" {
		// A composite dump: say how big it is; the full dump is in the
		// details.
		if m := lenAnnotation.FindStringSubmatch(typ); m != nil {
			return m[1] + " entries"
		}
		return "a list"
	}
	if typ == "string" && !strings.HasPrefix(first, `"`) {
		first = `"` + first + `"`
	}
	return clip(first)
}

var lenAnnotation = regexp.MustCompile(`\blen:(\d+)`)

// clip cuts a value to maxValue runes.
func clip(s string) string {
	r := []rune(s)
	if len(r) > maxValue {
		return string(r[:maxValue]) + "…"
	}
	return s
}
