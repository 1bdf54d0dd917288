package fhirpath

import "strings"

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
// well-formed XML rooted in an XHTML div, use only the allowed elements,
// and carry no event attributes or javascript: links. *hasContent is set to
// whether it has any text or image.
func htmlOK(s string, hasContent *bool) bool {
	var stack []string
	content, rooted := false, false
	i := 0
	for i < len(s) {
		c := s[i]
		if c != '<' {
			if c == '&' {
				n := entityLen(s[i:])
				if n == 0 {
					return false
				}
				if len(stack) == 0 {
					return false
				}
				content = true
				i += n
				continue
			}
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				if len(stack) == 0 {
					return false // text outside the div
				}
				content = true
			}
			i++
			continue
		}
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return false
			}
			i += 4 + end + 3
			continue
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(rest, "]]>")
			if end < 0 || len(stack) == 0 {
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
			j := strings.IndexByte(rest, '>')
			if j < 0 || len(stack) == 0 {
				return false
			}
			name := strings.TrimSpace(rest[2:j])
			if name != stack[len(stack)-1] {
				return false
			}
			stack = stack[:len(stack)-1]
			i += j + 1
			continue
		}
		// a start tag
		j := i + 1
		for j < len(s) && !isSpace(s[j]) && s[j] != '>' && s[j] != '/' {
			j++
		}
		name := s[i+1 : j]
		local := name
		if k := strings.IndexByte(name, ':'); k >= 0 {
			local = name[k+1:]
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
		xmlns := ""
		for {
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			if j >= len(s) {
				return false
			}
			if s[j] == '>' || strings.HasPrefix(s[j:], "/>") {
				break
			}
			k := j
			for k < len(s) && s[k] != '=' && !isSpace(s[k]) && s[k] != '>' {
				k++
			}
			attr := s[j:k]
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
			if strings.IndexByte(val, '<') >= 0 {
				return false
			}
			if len(attr) > 2 && strings.EqualFold(attr[:2], "on") || (strings.EqualFold(attr, "href") || strings.EqualFold(attr, "src")) && hasPrefixFold(strings.TrimSpace(val), "javascript:") {
				return false
			}
			if attr == "xmlns" || strings.HasPrefix(attr, "xmlns:") {
				xmlns = val
				if val != xhtmlNS {
					return false
				}
			}
			j = k + 1 + end + 1
		}
		if len(stack) == 0 && xmlns != xhtmlNS {
			return false // the div must declare the XHTML namespace
		}
		if local == "img" {
			content = true
		}
		if strings.HasPrefix(s[j:], "/>") {
			i = j + 2
			continue
		}
		stack = append(stack, name)
		i = j + 1
	}
	*hasContent = content
	return rooted && len(stack) == 0
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// entityLen returns the length of the entity or character reference at
// the start of s ("&amp;", "&#160;", "&#xA0;"), or 0 if there is none.
func entityLen(s string) int {
	for i := 1; i < len(s) && i < 40; i++ {
		c := s[i]
		switch {
		case c == ';':
			if i == 1 {
				return 0
			}
			return i + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '#' && i == 1:
		default:
			return 0
		}
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
