package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     seconds      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       seconds         `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

// seconds is a JUnit time attribute: seconds with millisecond precision.
type seconds float64

func (s seconds) MarshalXMLAttr(name xml.Name) (xml.Attr, error) {
	return xml.Attr{Name: name, Value: strconv.FormatFloat(float64(s), 'f', 3, 64)}, nil
}

func (s *seconds) UnmarshalXMLAttr(a xml.Attr) error {
	v, err := strconv.ParseFloat(a.Value, 64)
	*s = seconds(v)
	return err
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name       string          `xml:"name,attr"`
	Classname  string          `xml:"classname,attr"`
	Time       seconds         `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Failure    *junitMessage   `xml:"failure,omitempty"`
	Skipped    *junitMessage   `xml:"skipped,omitempty"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one testcase per spec, grouped in one testsuite per
// scenario area. A testcase's name starts with its requirement IDs, which
// are also in its properties with its level, area and state. A failure
// carries the message in plain words as its message attribute and, as its
// text, the full message and a summary of the evidence. A SHOULD failure
// that does not fail the run is written as passed with a warning in
// system-out, so that CI systems do not turn red on it.
func WriteJUnit(w io.Writer, r *Run) error {
	out := junitSuites{Name: "pdex-conform: " + r.Meta.Target, Time: seconds(r.Meta.Duration.Seconds())}
	byArea := map[string]*junitSuite{}
	var order []string
	for _, s := range r.Specs {
		js := byArea[s.Area]
		if js == nil {
			js = &junitSuite{
				Name:      s.Area,
				Timestamp: r.Meta.Started.UTC().Format(time.RFC3339),
				Properties: []junitProperty{
					{"target", r.Meta.Target}, {"edition", r.Meta.Edition},
					{"verdict", r.Verdict}, {"toolVersion", r.Meta.ToolVersion},
				},
			}
			byArea[s.Area] = js
			order = append(order, s.Area)
		}
		name := s.Name
		if len(s.Requirements) > 0 {
			name = "[" + strings.Join(s.Requirements, ",") + "] " + s.Name
		}
		c := junitCase{
			Name:      name,
			Classname: "pdex-conform." + s.Area,
			Time:      seconds(s.Duration.Seconds()),
			Properties: []junitProperty{
				{"requirements", strings.Join(s.Requirements, ",")},
				{"level", s.Level},
				{"area", s.Area},
				{"state", s.State},
				{"id", s.ID},
			},
		}
		js.Tests++
		out.Tests++
		switch s.State {
		case Failed:
			c.Failure = &junitMessage{Message: summaryLine(s.Summary), Type: s.Level, Text: failureText(s)}
			js.Failures++
			out.Failures++
		case Skipped:
			c.Skipped = &junitMessage{Message: summaryLine(s.Summary)}
			js.Skipped++
			out.Skipped++
		case Warning:
			c.SystemOut = "WARNING: " + s.Level + " requirement not met (not failing the run)\n" + failureText(s)
		}
		js.Time += c.Time
		js.Cases = append(js.Cases, c)
	}
	for _, a := range order {
		out.Suites = append(out.Suites, *byArea[a])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing the JUnit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// oneLine joins a message's lines, for an attribute.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// summaryLine puts a plain-words summary on one line, its lines joined
// with dashes so that "what failed" and "why" still read apart.
func summaryLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = oneLine(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " — ")
}

// failureText is a failure in plain words and its evidence in a few lines.
// The raw message and where the spec failed in the source are for
// developers: they are in the JSON results, not here.
func failureText(s Spec) string {
	var b strings.Builder
	b.WriteString(s.Summary)
	if ev := EvidenceSummary(s); ev != "" {
		b.WriteString("\n\nEvidence:\n" + ev)
	}
	return b.String()
}

// maxEvidenceLines bounds the evidence summary of one spec.
const maxEvidenceLines = 40

// EvidenceSummary lists a spec's exchanges (or those of the shared export it
// checked) and validations in a few lines each.
func EvidenceSummary(s Spec) string {
	var lines []string
	exchanges := s.Exchanges
	if len(exchanges) == 0 && len(s.Shared) > 0 {
		lines = append(lines, fmt.Sprintf("(exchanges of the export this spec checked, recorded by %s)", s.SharedFrom))
		exchanges = s.Shared
	}
	for _, ex := range exchanges {
		lines = append(lines, exchangeLine(ex))
	}
	for _, v := range s.Validations {
		lines = append(lines, fmt.Sprintf("validation of %s %s: %d lines, %d errors, %d warnings", v.Type, v.File, v.Lines, v.Errors, v.Warnings))
		for i, is := range v.First {
			if i == 5 {
				lines = append(lines, fmt.Sprintf("  … %d more issues", max(len(v.First), v.Errors+v.Warnings)-5))
				break
			}
			lines = append(lines, "  "+is)
		}
	}
	if len(lines) > maxEvidenceLines {
		n := len(lines) - maxEvidenceLines
		lines = append(lines[:maxEvidenceLines], fmt.Sprintf("… %d more lines in the HTML report", n))
	}
	return strings.Join(lines, "\n")
}

func exchangeLine(ex evidence.Exchange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> ", ex.Method, ex.URL)
	if ex.Status == 0 {
		b.WriteString("no response")
	} else {
		fmt.Fprintf(&b, "%d", ex.Status)
		if ct := firstHeader(ex.ResponseHeaders, "Content-Type"); ct != "" {
			b.WriteString(" " + ct)
		}
	}
	if ex.Error != "" {
		b.WriteString(" (" + ex.Error + ")")
	}
	if len(ex.Conformance) > 0 {
		fmt.Fprintf(&b, " [%d API description mismatches]", len(ex.Conformance))
	}
	return b.String()
}

func firstHeader(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
