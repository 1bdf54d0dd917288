package profile

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// stringTypes are the primitive types whose JSON value is a string, and
// numberTypes those whose value is a number.
var (
	stringTypes = []string{"string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid", "date", "dateTime", "instant", "time", "base64Binary"}
	numberTypes = []string{"integer", "unsignedInt", "positiveInt", "decimal"}
)

// definitionRegexps reads the regular expression of each primitive type
// from its R4 definition (the "regex" extension on the type of the
// definition's value element), anchored as XML Schema patterns are.
func definitionRegexps(tb testing.TB) map[string]*regexp.Regexp {
	tb.Helper()
	reg := packagestest.Registry(tb)
	out := map[string]*regexp.Regexp{}
	for _, typ := range append(append([]string{}, stringTypes...), numberTypes...) {
		sd, err := reg.StructureDefinition(coreSD + typ)
		if err != nil || sd == nil {
			tb.Fatalf("no R4 definition of %s: %v", typ, err)
		}
		for _, e := range sd.Snapshot.Element {
			if e.ID != typ+".value" {
				continue
			}
			for _, t := range e.Type {
				for _, x := range t.Extension {
					if x.URL == "http://hl7.org/fhir/StructureDefinition/regex" {
						out[typ] = regexp.MustCompile(`^(?:` + x.ValueString + `)$`)
					}
				}
			}
		}
		if out[typ] == nil {
			tb.Fatalf("the R4 definition of %s has no regular expression", typ)
		}
	}
	return out
}

// textRule reports whether one of the rules the R4 pages add to a type's
// regular expression rejects a value the expression admits (see
// primitive.go): no empty JSON string, valid calendar dates, 32-bit
// integers, base64 padding only at the end.
func textRule(typ, v string) bool {
	if !utf8.ValidString(v) {
		return true // JSON text is UTF-8 (RFC 8259, json.html)
	}
	switch typ {
	case "integer", "unsignedInt", "positiveInt":
		n, err := strconv.ParseInt(v, 10, 64)
		return err != nil || n > math.MaxInt32 || n < math.MinInt32
	case "date", "dateTime", "instant":
		date, _, _ := strings.Cut(v, "T")
		return len(date) == 10 && !validDay(date[0:4], date[5:7], date[8:10])
	case "base64Binary":
		t := strings.Map(func(r rune) rune {
			if r < 0x80 && reSpace(byte(r)) {
				return -1
			}
			return r
		}, v)
		body := strings.TrimRight(t, "=")
		return strings.Contains(body, "=") || len(t)-len(body) > 2
	}
	return v == ""
}

// primitiveAgrees compares checkPrimitive with a type's regular expression
// on one lexical form. It returns "" when they agree.
func primitiveAgrees(typ, v string, re *regexp.Regexp) string {
	var val any = v
	if typ == "integer" || typ == "unsignedInt" || typ == "positiveInt" || typ == "decimal" {
		if !validJSONNumber(v) {
			return "" // not a JSON number: the decoder refuses it first
		}
		val = json.Number(v)
	}
	p := checkPrimitive(typ, val)
	engine := p.msg == "" || p.warning
	def := re.MatchString(v) && !textRule(typ, v)
	switch {
	case engine && !def:
		return "accepted by the engine, refused by the definition"
	case !engine && def:
		return "refused by the engine (" + p.msg + "), accepted by the definition"
	}
	return ""
}

var primitiveSamples = []string{
	"", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\nb", "a\fb", "a\vb", "\t", "é", "x\u00a0y",
	"0", "-0", "00", "01", "1", "-1", "+1", "1.0", "1.", ".5", "1e2", "1E+2", "1e-2", "-1.5e10", "2147483647", "2147483648", "-2147483648", "-2147483649", "99999999999", "1e400",
	"abc-DEF.123", strings.Repeat("a", 64), strings.Repeat("a", 65), "a_b", "a/b",
	"urn:oid:1.2.3", "urn:oid:1", "urn:oid:3.1", "urn:oid:12.3", "urn:oid:1.02", "urn:oid:0.0", "urn:oid:1..2",
	"urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "urn:uuid:C757873D-EC9A-4326-A141-556F43239520", "urn:uuid:c757873d-ec9a-4326-a141-556f4323952",
	"2020", "0000", "0001", "2020-01", "2020-13", "2020-00", "2020-01-31", "2020-02-29", "2021-02-29", "2020-02-30", "2020-04-31", "2020-1-1", "20200101",
	"2020-01-01T10:00:00Z", "2020-01-01T10:00:00.123Z", "2020-01-01T10:00:00+05:30", "2020-01-01T10:00:00+14:00", "2020-01-01T10:00:00+14:30", "2020-01-01T10:00:00-13:59",
	"2020-01-01T10:00Z", "2020-01-01T10:00:00", "2020-01-01T24:00:00Z", "2020-01-01T23:59:60Z", "2020-01-01T10:00:00.Z", "2020-01T10:00:00Z", "2020-02-30T10:00:00Z",
	"10:00:00", "10:00", "24:00:00", "23:59:60", "23:60:00", "10:00:00.5", "10:00:00.",
	"QUJD", "QUJDRA==", "QUJDRA=", "QUI=", "QQ==", "QU=JD", "Q===", "QUJD QUJD", " QUJD ", "QUJD\nQUJD", "EQH/..AgME", "QUJ", "====",
	"http://example.org/a b", "http://example.org/a", "urn:x", "#frag", "a\u2028b",
	"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>",
}

// TestPrimitivesFollowDefinitions checks checkPrimitive against the
// regular expressions of the R4 definitions themselves, read from the
// package, on samples chosen at each rule's edges: the two must agree,
// but for the rules the R4 pages add (textRule).
func TestPrimitivesFollowDefinitions(t *testing.T) {
	res := definitionRegexps(t)
	n := 0
	for typ, re := range res {
		for _, v := range primitiveSamples {
			n++
			if why := primitiveAgrees(typ, v, re); why != "" {
				t.Errorf("%s %q: %s", typ, v, why)
			}
		}
	}
	t.Logf("%d type and value pairs agree with the R4 definitions", n)
}

// FuzzPrimitive compares checkPrimitive with the definitions' regular
// expressions on any string, for every primitive type.
//
//	go test ./validators/profile -run '^$' -fuzz FuzzPrimitive -fuzztime 60s
func FuzzPrimitive(f *testing.F) {
	res := definitionRegexps(f)
	for _, v := range primitiveSamples {
		f.Add(v)
	}
	types := append(append([]string{}, stringTypes...), numberTypes...)
	f.Fuzz(func(t *testing.T, v string) {
		for _, typ := range types {
			if why := primitiveAgrees(typ, v, res[typ]); why != "" {
				t.Errorf("%s %q: %s", typ, v, why)
			}
		}
	})
}
