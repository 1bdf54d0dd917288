package fhirpath

import (
	"encoding/xml"
	"io"
	"strings"
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

// htmlOK implements FHIR's htmlChecks(): the narrative is well-formed XHTML
// rooted in an XHTML div, uses only the allowed elements, no scripts or
// event attributes; *hasContent is set to whether it has some content.
func htmlOK(s string, hasContent *bool) bool {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	depth, content := 0, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			*hasContent = content
			return depth == 0
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (t.Name.Local != "div" || t.Name.Space != xhtmlNS) {
				return false
			}
			if !allowedXHTML[t.Name.Local] || t.Name.Space != xhtmlNS {
				return false
			}
			for _, a := range t.Attr {
				n := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(n, "on") || (n == "href" || n == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Value)), "javascript:") {
					return false
				}
			}
			if t.Name.Local == "img" {
				content = true
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return false
				}
			} else if strings.TrimSpace(string(t)) != "" {
				content = true
			}
		case xml.ProcInst, xml.Directive:
			return false
		}
	}
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
