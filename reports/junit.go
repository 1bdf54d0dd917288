package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       float64         `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name       string          `xml:"name,attr"`
	Classname  string          `xml:"classname,attr"`
	Time       float64         `xml:"time,attr"`
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
// area; requirement IDs are in each testcase's name and properties. A SHOULD
// failure that does not fail the run is written as passed with a warning in
// system-out, so CI systems do not turn red on it.
func WriteJUnit(w io.Writer, r *Run) error {
	out := junitSuites{Name: "pdex-conform " + r.Meta.Target, Time: r.Meta.Duration.Seconds()}
	byArea := map[string]*junitSuite{}
	var order []string
	for _, s := range r.Specs {
		js := byArea[s.Area]
		if js == nil {
			js = &junitSuite{Name: s.Area, Properties: []junitProperty{{"target", r.Meta.Target}, {"edition", r.Meta.Edition}}}
			byArea[s.Area] = js
			order = append(order, s.Area)
		}
		c := junitCase{
			Name:      fmt.Sprintf("[%s] %s", strings.Join(s.Requirements, ","), s.Name),
			Classname: "pdex-conform." + s.Area,
			Time:      s.Duration.Seconds(),
			Properties: []junitProperty{
				{"requirements", strings.Join(s.Requirements, ",")},
				{"level", s.Level},
			},
		}
		js.Tests++
		out.Tests++
		switch s.State {
		case Failed:
			c.Failure = &junitMessage{Message: firstLine(s.Failure), Type: s.Level, Text: s.Failure + "\n\n" + evidenceSummary(s)}
			js.Failures++
			out.Failures++
		case Skipped:
			c.Skipped = &junitMessage{Message: firstLine(s.Failure)}
			js.Skipped++
			out.Skipped++
		case Warning:
			c.SystemOut = "WARNING (" + s.Level + " not met): " + s.Failure
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
	return enc.Encode(out)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// evidenceSummary lists a spec's exchanges and validations in a few lines.
func evidenceSummary(s Spec) string {
	var b strings.Builder
	for _, ex := range s.Exchanges {
		fmt.Fprintf(&b, "%s %s -> %d", ex.Method, ex.URL, ex.Status)
		if ex.Error != "" {
			b.WriteString(" (" + ex.Error + ")")
		}
		b.WriteByte('\n')
	}
	for _, v := range s.Validations {
		fmt.Fprintf(&b, "validation %s: %d lines, %d errors\n", v.Type, v.Lines, v.Errors)
	}
	return b.String()
}
