package reports

import (
	"regexp"
	"slices"
	"strings"

	"github.com/pdex-conform/pdex-conform/evidence"
)

// Scrubber removes secrets from text that is about to reach a report or the
// console. Evidence is redacted where it is recorded (package evidence); the
// reports pass everything through a Scrubber once more, because failure
// messages, notes and log output come from spec code that may print a token
// or a key without going through evidence.
type Scrubber struct {
	// literals are known secret values (the configured private keys and
	// bearer token) and their fragments, longest first.
	literals []string
}

// minFragment is the shortest piece of a known secret that is scrubbed on
// its own: long enough that ordinary words never match, short enough to
// catch one line of a PEM block or one member of a JWK.
const minFragment = 16

// NewScrubber returns a Scrubber for the given known secrets. Each secret is
// also split into its base64-looking fragments (PEM lines, JWK members), so
// that a secret printed in part or re-wrapped is still caught.
func NewScrubber(secrets ...string) *Scrubber {
	seen := map[string]bool{}
	var lits []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) >= minFragment && !seen[s] {
			seen[s] = true
			lits = append(lits, s)
		}
	}
	for _, s := range secrets {
		add(s)
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return !isTokenRune(r) }) {
			add(f)
		}
	}
	// Longest first, so that a whole key is replaced before its lines.
	slices.SortStableFunc(lits, func(a, b string) int { return len(b) - len(a) })
	return &Scrubber{literals: lits}
}

func isTokenRune(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
		r == '+' || r == '/' || r == '=' || r == '-' || r == '_'
}

// Patterns for secrets whose values the reports cannot know in advance:
// access tokens issued during the run and client assertions.
var (
	// A bearer credential anywhere in text (a header echoed in a message).
	bearer = regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}`)
	// Any dot-separated token with a base64url JSON segment ("eyJ" is
	// base64 for `{"`): JWTs, JWS and tokens that wrap a JSON payload, such
	// as the reference server's "v1.<payload>.<mac>" access tokens. A token
	// has at least two segments: a lone base64 JSON segment is not one, and
	// some servers put such a segment in their URL paths (the SMART
	// bulk-data-server encodes its settings so), which must stay readable.
	jsonToken = regexp.MustCompile(`(?:[A-Za-z0-9_-]+\.)+eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)*|eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)+`)
)

// Scrub returns s with every secret replaced by evidence.Redacted.
func (sc *Scrubber) Scrub(s string) string {
	if s == "" {
		return s
	}
	if sc != nil {
		for _, l := range sc.literals {
			if strings.Contains(s, l) {
				s = strings.ReplaceAll(s, l, evidence.Redacted)
			}
		}
	}
	s = evidence.RedactBody(s)
	s = bearer.ReplaceAllString(s, "${1} "+evidence.Redacted)
	s = jsonToken.ReplaceAllString(s, evidence.Redacted)
	return s
}

// ScrubAll scrubs every string of a slice in place and returns it.
func (sc *Scrubber) ScrubAll(ss []string) []string {
	for i := range ss {
		ss[i] = sc.Scrub(ss[i])
	}
	return ss
}
