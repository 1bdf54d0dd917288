package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// maxAssertion bounds the client assertion; real ones are well under 2 KiB.
const maxAssertion = 16 << 10

// assertion is a client assertion split and decoded, not yet verified.
type assertion struct {
	header       jwsHeader
	claims       jwtClaims
	signingInput string // base64url(header) "." base64url(claims)
	signature    []byte
}

type jwsHeader struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Typ  string   `json:"typ"`
	JKU  string   `json:"jku"`
	Crit []string `json:"crit"`
}

type jwtClaims struct {
	Iss string       `json:"iss"`
	Sub string       `json:"sub"`
	Aud audience     `json:"aud"`
	Exp *numericDate `json:"exp"`
	Nbf *numericDate `json:"nbf"`
	Iat *numericDate `json:"iat"`
	JTI string       `json:"jti"`
}

// audience is the "aud" claim: a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New(`"aud" is neither a string nor an array of strings`)
	}
	*a = many
	return nil
}

func (a audience) contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional (RFC 7519 §2).
type numericDate struct{ time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil || len(b) == 0 || b[0] == '"' {
		return errors.New("a date claim is not a number")
	}
	f, err := n.Float64()
	// Beyond ±1e11 s (year ~5000) a date is nonsense, and time.Unix would overflow.
	if err != nil || math.IsNaN(f) || math.Abs(f) > 1e11 {
		return errors.New("a date claim is out of range")
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// parseAssertion splits a compact JWS and decodes its header and claims.
// It checks form only; verifyAssertion decides whether to trust it.
func parseAssertion(raw string) (*assertion, error) {
	if len(raw) > maxAssertion {
		return nil, fmt.Errorf("the assertion is longer than %d bytes", maxAssertion)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the assertion has %d dot-separated parts, want 3 (JWS compact serialisation)", len(parts))
	}
	var a assertion
	if err := decodeSegment(parts[0], "header", &a.header); err != nil {
		return nil, err
	}
	if err := decodeSegment(parts[1], "claims", &a.claims); err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("the assertion signature is not unpadded base64url")
	}
	a.signingInput = parts[0] + "." + parts[1]
	a.signature = sig
	return &a, nil
}

// decodeSegment decodes one base64url JSON object. Duplicate member names
// are refused: decoders disagree on which one wins, which an attacker can
// use to show a verifier and a consumer different claims.
func decodeSegment(seg, what string, v any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return fmt.Errorf("the assertion %s is not unpadded base64url", what)
	}
	if err := checkObject(b); err != nil {
		return fmt.Errorf("the assertion %s: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("the assertion %s: %w", what, err)
	}
	return nil
}

// checkObject verifies that b is exactly one JSON object without duplicate
// member names at its top level.
func checkObject(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("malformed JSON")
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("member %q appears twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errors.New("malformed JSON")
		}
	}
	if _, err := dec.Token(); err != nil {
		return errors.New("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}
