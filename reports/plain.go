package reports

import (
	"regexp"
	"strings"
)

// maxValue bounds one value quoted in a plain-words summary; the full
// message stays available beside it.
const maxValue = 160

// typePrefix is the "<type | details>: " Gomega writes before a value.
var typePrefix = regexp.MustCompile(`^<([^>]*)>:\s?`)

// PlainFailure turns a Gomega failure message into a sentence a reader can
// take in at a glance: the spec's own explanation, then "Expected X to
// equal Y" with Go type annotations, pointer addresses and struct dumps
// left out. Messages that are not in Gomega's format are returned trimmed.
func PlainFailure(msg string) string {
	msg = strings.TrimSpace(msg)
	lines := strings.Split(msg, "\n")
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
	var parts []string
	for i := start; i < len(lines); {
		l := lines[i]
		if !indented(l) {
			switch w := strings.TrimSpace(l); w {
			case "":
			case "Unexpected error:":
				parts = append(parts, "Error:")
			case "occurred":
				// The tail of "Unexpected error: … occurred".
			default:
				parts = append(parts, w)
			}
			i++
			continue
		}
		j := i
		for j < len(lines) && (indented(lines[j]) || strings.TrimSpace(lines[j]) == "") {
			j++
		}
		parts = append(parts, plainValue(lines[i:j]))
		i = j
	}
	sentence := strings.Join(parts, " ")
	switch {
	case annotation == "":
		return sentence
	case sentence == "":
		return annotation
	}
	return annotation + "\n" + sentence
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
	if open := first[len(first)-min(len(first), 1):]; open == "{" || open == "[" {
		// A composite dump: say how big it is; the full dump is in the
		// details.
		closing := map[string]string{"{": "}", "[": "]"}[open]
		if m := lenAnnotation.FindStringSubmatch(typ); m != nil {
			return open + "… " + m[1] + " entries" + closing
		}
		return open + "…" + closing
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
