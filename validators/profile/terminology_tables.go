package profile

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pdex-conform/pdex-conform/validators"
)

// Code systems that Provider Access data binds to and that no FHIR package
// here carries (the R4 package defines the value sets but not the codes:
// its currencies value set "includes all of urn:iso:std:iso:4217"). Without
// them every Money.currency of a claim would go unchecked. Each is either
// a table of its codes, with its source, or a check of the codes' syntax,
// which is said as such: a syntax check accepts any well-formed code, valid
// or not.
type builtinSystem struct {
	// source names where the codes or the grammar come from.
	source string
	// codes lists the codes, when they are kept here or derived from
	// value sets of the loaded packages.
	codes func(t *terminology) []string
	// syntax checks a code's form, for the codes that cannot be listed.
	syntax func(code string) bool
}

// builtin returns the built-in code system of a URL, if there is one. (A
// function, not a map: iso3166 expands value sets, which look here.)
func builtin(url string) (builtinSystem, bool) {
	switch url {
	case "urn:iso:std:iso:4217":
		return builtinSystem{
			source: "ISO 4217 currency codes, list one (current currency and funds codes) of the ISO 4217 maintenance agency, 2025",
			codes:  func(*terminology) []string { return strings.Fields(iso4217) },
		}, true
	case "urn:iso:std:iso:3166":
		return builtinSystem{
			source: "ISO 3166-1 alpha-2 codes as the R4 package's value set iso3166-1-2 enumerates them; alpha-3 and numeric codes by their form, as R4's iso3166-1-3 and iso3166-1-N define them ([A-Z]{3}, [0-9]{3})",
			codes:  iso3166,
			syntax: iso3166Long,
		}, true
	case "http://unitsofmeasure.org":
		return builtinSystem{
			source: "UCUM syntax (The Unified Code for Units of Measure, §§1-6: case-sensitive codes of atoms, prefixes, exponents, annotations, '.' and '/'); a syntax check, not a check of each unit's existence",
			syntax: ucumSyntax,
		}, true
	case "urn:ietf:bcp:47":
		return builtinSystem{
			source: "BCP 47 (RFC 5646 §2.1) language tag syntax; a syntax check, not a lookup in the IANA subtag registry",
			syntax: bcp47Syntax,
		}, true
	case "urn:ietf:bcp:13":
		return builtinSystem{
			source: "BCP 13 (RFC 6838 §4.2) media type syntax, type/subtype with parameters; a syntax check, not a lookup in the IANA media type registry",
			syntax: mediaTypeSyntax,
		}, true
	}
	return builtinSystem{}, false
}

// iso4217 holds the ISO 4217 alphabetic codes of list one: currencies in
// use, funds codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious
// metals and special codes (X..).
const iso4217 = `
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN
NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL
SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES
VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
`

// iso3166 lists the alpha-2 country codes the R4 package enumerates.
func iso3166(t *terminology) []string {
	var out []string
	for c := range t.valueSet("http://hl7.org/fhir/ValueSet/iso3166-1-2").codes["urn:iso:std:iso:3166"] {
		out = append(out, c)
	}
	return out
}

// iso3166Long checks the form of alpha-3 and numeric country codes.
func iso3166Long(code string) bool {
	if len(code) != 3 {
		return false
	}
	letters, digits := 0, 0
	for i := 0; i < 3; i++ {
		switch c := code[i]; {
		case c >= 'A' && c <= 'Z':
			letters++
		case c >= '0' && c <= '9':
			digits++
		}
	}
	return letters == 3 || digits == 3
}

// ucumSyntax checks the form of a UCUM code: terms joined by '.' or '/',
// each an annotation ({...}), a number, or a unit symbol (printable ASCII
// other than the operators, brackets balanced) with an optional signed
// integer exponent; a leading '/' is allowed ("/min").
func ucumSyntax(code string) bool {
	if code == "" || len(code) > 256 {
		return false
	}
	s := strings.TrimPrefix(code, "/")
	if s == "" {
		return false
	}
	depthSq, term := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return false
			}
			ann := s[i+1 : i+j]
			if strings.ContainsAny(ann, "{") {
				return false
			}
			for k := 0; k < len(ann); k++ {
				if ann[k] < 33 || ann[k] > 126 {
					return false
				}
			}
			i += j
			term++
		case c == '[':
			depthSq++
			term++
		case c == ']':
			if depthSq == 0 {
				return false
			}
			depthSq--
		case (c == '.' || c == '/') && depthSq == 0:
			if term == 0 || i == len(s)-1 {
				return false
			}
			term = 0
		case c == '(' || c == ')':
			term++ // parenthesised terms: balance is checked below
		case c < 33 || c > 126 || c == '}':
			return false
		default:
			term++
		}
	}
	return depthSq == 0 && strings.Count(s, "(") == strings.Count(s, ")")
}

// bcp47 is the RFC 5646 §2.1 grammar of a language tag (langtag,
// private use, and the irregular grandfathered tags' shape).
var bcp47 = regexp.MustCompile(`^(?i:` +
	`(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})` + // language, extlang
	`(?:-[a-z]{4})?` + // script
	`(?:-(?:[a-z]{2}|[0-9]{3}))?` + // region
	`(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*` + // variants
	`(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*` + // extensions
	`(?:-x(?:-[a-z0-9]{1,8})+)?` + // private use
	`|x(?:-[a-z0-9]{1,8})+` + // private use alone
	`|(?:en-GB-oed|i-[a-z]{2,8}|sgn-[a-z]{2}-[a-z]{2,3}|art-lojban|cel-gaulish|no-bok|no-nyn|zh-(?:guoyu|hakka|min|min-nan|xiang))` +
	`)$`)

func bcp47Syntax(code string) bool { return len(code) <= 128 && bcp47.MatchString(code) }

// mediaType is RFC 6838 §4.2: type "/" subtype, each a restricted name
// (alphanumeric first, then alphanumerics and !#$&-^_.+), then parameters.
var mediaType = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}` +
	`(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[^"]*"))*$`)

func mediaTypeSyntax(code string) bool { return len(code) <= 512 && mediaType.MatchString(code) }

// bindingNotChecked records, for the run's summary, a required or
// extensible binding whose value set cannot be expanded here (a VSAC or X12
// value set, a filter on a code system no package carries).
func (w *walker) bindingNotChecked(e *elem, vs *vsIndex) {
	b := e.binding
	if w.quiet || (b.Strength != "required" && b.Strength != "extensible") {
		return
	}
	w.res.Issues = append(w.res.Issues, validators.Issue{
		Severity: validators.Warning, Path: string(w.path), Rule: e.id, Profile: w.prof, NotChecked: b.ValueSet,
		Message: fmt.Sprintf("value set %s cannot be checked (%s): %s binding not checked", b.ValueSet, vs.why(), b.Strength),
	})
}

// codeNotChecked records, for the run's summary, a code accepted because
// its value set includes its whole code system, whose codes are not
// available here (SNOMED CT, LOINC, CPT...): the code itself is not
// verified.
func (w *walker) codeNotChecked(e *elem, system string) {
	if w.quiet {
		return
	}
	w.res.Issues = append(w.res.Issues, validators.Issue{
		Severity: validators.Warning, Path: string(w.path), Rule: e.id, Profile: w.prof, NotChecked: system,
		Message: fmt.Sprintf("codes of %s are not available here: a code from it is accepted by its system, not verified", system),
	})
}

// formatShorthand reports the codes R4 allows in CapabilityStatement.format
// besides media types: "'xml', 'json' and 'ttl' are allowed, which describe
// the simple encodings described in the specification" (the element's
// comment; the binding alone would refuse them).
func formatShorthand(path, code string) bool {
	return path == "CapabilityStatement.format" && (code == "xml" || code == "json" || code == "ttl")
}
