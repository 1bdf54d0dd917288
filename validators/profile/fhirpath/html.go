package fhirpath

import (
	"encoding/xml"
	"strconv"
	"strings"
	"unicode/utf8"
)

// allowedXHTML is the subset of XHTML FHIR narrative may use (R4, Narrative).
var allowedXHTML = map[string]bool{
	"a": true, "abbr": true, "acronym": true, "b": true, "big": true, "blockquote": true, "br": true,
	"caption": true, "cite": true, "code": true, "col": true, "colgroup": true, "dd": true, "dfn": true,
	"div": true, "dl": true, "dt": true, "em": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"h5": true, "h6": true, "hr": true, "i": true, "img": true, "li": true, "ol": true, "p": true,
	"pre": true, "q": true, "samp": true, "small": true, "span": true, "strong": true, "sub": true,
	"sup": true, "table": true, "tbody": true, "td": true, "tfoot": true, "th": true, "thead": true,
	"tr": true, "tt": true, "ul": true, "var": true,
}

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// CheckHTML checks a narrative div: allowed reports that it is well-formed
// XHTML rooted in an XHTML div using only the elements FHIR allows, with no
// scripts or event attributes (txt-1); content that it has some text or an
// image (txt-2).
func CheckHTML(s string) (allowed, content bool) {
	content = true
	allowed = htmlOK(s, &content)
	return allowed, content
}

// htmlOK implements FHIR's htmlChecks() with a small scanner rather than
// encoding/xml, which costs more than the rest of a resource's validation
// on the large narratives of real resources: the narrative must be
// well-formed XML (names, quoted and unique attributes, entities,
// comments, characters) rooted in one XHTML div, use only the allowed
// elements, and carry no event attributes or javascript: links.
// *hasContent is set to whether it has any text or image. FuzzHTML holds
// it to encoding/xml: whatever it allows, encoding/xml parses.
func htmlOK(s string, hasContent *bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	type frame struct {
		name     string
		prefixes []string // namespace prefixes declared on the element
	}
	var stack []frame
	declared := func(prefix string, own []string) bool {
		if prefix == "" || prefix == "xml" {
			return true
		}
		for _, p := range own {
			if p == prefix {
				return true
			}
		}
		for _, f := range stack {
			for _, p := range f.prefixes {
				if p == prefix {
					return true
				}
			}
		}
		return false
	}
	content, rooted := false, false
	i := 0
	for i < len(s) {
		c := s[i]
		if c != '<' {
			switch {
			case c == '&':
				n := entityLen(s[i:])
				if n == 0 || len(stack) == 0 {
					return false
				}
				content = true
				i += n
				continue
			case c == '>' && strings.HasPrefix(s[max(0, i-2):], "]]>"):
				return false // "]]>" is not allowed in text
			case !xmlChar(s, i):
				return false
			case c != ' ' && c != '\t' && c != '\n' && c != '\r':
				if len(stack) == 0 {
					return false // text outside the div
				}
				content = true
			}
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
			continue
		}
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "--")
			if end < 0 || !strings.HasPrefix(rest[4+end:], "-->") || !xmlChars(rest[4:4+end]) {
				return false // "--" only ends a comment
			}
			i += 4 + end + 3
			continue
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(rest, "]]>")
			if end < 0 || len(stack) == 0 || !xmlChars(rest[9:end]) {
				return false
			}
			if strings.TrimSpace(rest[9:end]) != "" {
				content = true
			}
			i += end + 3
			continue
		case strings.HasPrefix(rest, "<!") || strings.HasPrefix(rest, "<?"):
			return false // doctype, processing instruction
		case strings.HasPrefix(rest, "</"):
			n := nameLen(rest[2:])
			if n == 0 || len(stack) == 0 || rest[2:2+n] != stack[len(stack)-1].name {
				return false
			}
			j := 2 + n
			for j < len(rest) && isSpace(rest[j]) {
				j++
			}
			if j >= len(rest) || rest[j] != '>' {
				return false
			}
			stack = stack[:len(stack)-1]
			i += j + 1
			continue
		}
		// a start tag
		n := nameLen(rest[1:])
		if n == 0 {
			return false
		}
		name := rest[1 : 1+n]
		prefix, local, hasPrefix := strings.Cut(name, ":")
		if !hasPrefix {
			prefix, local = "", name
		}
		if len(stack) == 0 {
			if rooted || local != "div" {
				return false // a second root, or a root that is not a div
			}
			rooted = true
		}
		if !allowedXHTML[local] {
			return false
		}
		// attributes
		j := i + 1 + n
		xmlns := ""
		var own, attrs []string
		for {
			sp := j
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			if j >= len(s) {
				return false
			}
			if s[j] == '>' || strings.HasPrefix(s[j:], "/>") {
				break
			}
			an := nameLen(s[j:])
			if an == 0 || j == sp {
				return false // an attribute needs a name, after space
			}
			attr := s[j : j+an]
			for _, a := range attrs {
				if a == attr {
					return false // attributes are unique
				}
			}
			attrs = append(attrs, attr)
			k := j + an
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			if k >= len(s) || s[k] != '=' {
				return false // XML attributes need values
			}
			k++
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			if k >= len(s) || (s[k] != '"' && s[k] != '\'') {
				return false
			}
			q := s[k]
			end := strings.IndexByte(s[k+1:], q)
			if end < 0 {
				return false
			}
			val := s[k+1 : k+1+end]
			if !attrValueOK(val) {
				return false
			}
			if len(attr) > 2 && strings.EqualFold(attr[:2], "on") || (strings.EqualFold(attr, "href") || strings.EqualFold(attr, "src")) && hasPrefixFold(strings.TrimSpace(val), "javascript:") {
				return false
			}
			if ap, _, ok := strings.Cut(attr, ":"); attr == "xmlns" || ok && ap == "xmlns" {
				if val != xhtmlNS {
					return false
				}
				if attr == "xmlns" {
					xmlns = val
				} else {
					own = append(own, attr[len("xmlns:"):])
				}
			}
			j = k + 1 + end + 1
		}
		// prefixes are declared on the element or around it
		for _, a := range attrs {
			if ap, _, ok := strings.Cut(a, ":"); ok && ap != "xmlns" && !declared(ap, own) {
				return false
			}
		}
		if hasPrefix && !declared(prefix, own) {
			return false
		}
		if len(stack) == 0 && xmlns != xhtmlNS && !(hasPrefix && declared(prefix, own)) {
			return false // the div must be in the XHTML namespace
		}
		if local == "img" {
			content = true
		}
		if strings.HasPrefix(s[j:], "/>") {
			i = j + 2
			continue
		}
		stack = append(stack, frame{name, own})
		i = j + 1
	}
	*hasContent = content
	return rooted && len(stack) == 0
}

// nameLen returns the length of the XML name at the start of s (ASCII
// names, with at most one prefix: "div", "xml:lang"), or 0.
func nameLen(s string) int {
	colon := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		case c == ':' && i > 0 && !colon && i+1 < len(s) && (s[i+1] >= 'a' && s[i+1] <= 'z' || s[i+1] >= 'A' && s[i+1] <= 'Z' || s[i+1] == '_'):
			colon = true
		default:
			return i
		}
	}
	return len(s)
}

// attrValueOK reports whether an attribute value is well-formed: no '<',
// every '&' an entity, only XML characters.
func attrValueOK(v string) bool {
	for i := 0; i < len(v); {
		switch v[i] {
		case '<':
			return false
		case '&':
			n := entityLen(v[i:])
			if n == 0 {
				return false
			}
			i += n
			continue
		}
		if !xmlChar(v, i) {
			return false
		}
		_, n := utf8.DecodeRuneInString(v[i:])
		i += n
	}
	return true
}

// xmlChar reports whether the character at s[i] is an XML Char (XML 1.0
// §2.2: tab, line feed, carriage return, and the code points from space
// up, but for surrogates, U+FFFE and U+FFFF).
func xmlChar(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return validXMLRune(r)
}

func validXMLRune(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

func xmlChars(s string) bool {
	for _, r := range s {
		if !validXMLRune(r) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// entityLen returns the length of the entity or character reference at
// the start of s ("&amp;", "&#160;", "&#xA0;", "&nbsp;"), or 0 if there is
// none. Named entities are XML's and XHTML's (encoding/xml's HTMLEntity
// table); character references must name an XML character.
func entityLen(s string) int {
	end := strings.IndexByte(s[:min(len(s), 40)], ';')
	if end < 2 {
		return 0
	}
	name := s[1:end]
	if num, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if hex, ok := strings.CutPrefix(num, "x"); ok {
			num, base = hex, 16
		}
		if num == "" || len(num) > 8 {
			return 0
		}
		n, err := strconv.ParseUint(num, base, 32)
		if err != nil || !validXMLRune(rune(n)) {
			return 0
		}
		return end + 1
	}
	switch name {
	case "amp", "lt", "gt", "quot", "apos":
		return end + 1
	}
	if _, ok := xml.HTMLEntity[name]; ok {
		return end + 1
	}
	return 0
}

func fHTMLChecks(_ *evaluator, in []Item, _ []*node, _ []Item) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > 1 {
		return boolItem(false), nil
	}
	s, ok := in[0].V.(string)
	if !ok {
		return boolItem(false), nil
	}
	allowed, content := CheckHTML(s)
	return boolItem(allowed && content), nil
}
