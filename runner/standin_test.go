package runner_test

import (
	"crypto/ecdsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// standIn is a small FHIR Bulk Data server written here, standing in for
// third-party servers nobody in this project wrote (such as the open-source
// SMART bulk-data-server): plain Group/[id]/$export only, no
// $davinci-data-export, SMART Backend Services with one registered ES384
// key, one Group of two Patients. Its crash switch makes it die mid-run, as
// a real server did: at a given request the listener closes and every
// connection drops, as when the process ends.
type standIn struct {
	srv *httptest.Server
	// key is the one registered client's public key.
	clientID string
	key      *ecdsa.PublicKey
	// crashAfter, when positive, kills the server at that request (counting
	// every request it received): a server that dies mid-run.
	crashAfter int64
	requests   atomic.Int64

	tokens  atomic.Int64
	crashed atomic.Bool
	once    sync.Once
}

const standInGroup = `{"resourceType":"Group","id":"g1","type":"person","actual":true,` +
	`"member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"Patient/p2"}}]}`

func newStandIn(t *testing.T, clientID string, key *ecdsa.PublicKey, crashAfter int64) *standIn {
	t.Helper()
	s := &standIn{clientID: clientID, key: key, crashAfter: crashAfter}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.close)
	return s
}

func (s *standIn) close() {
	s.once.Do(func() {
		s.srv.Listener.Close()
		s.srv.CloseClientConnections()
	})
}

// die ends the server as a crash would: the listener stops accepting and
// the open connections drop, this one included.
func (s *standIn) die(w http.ResponseWriter) {
	s.crashed.Store(true)
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
		}
	}
	go s.close()
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := s.requests.Add(1); s.crashAfter > 0 && n >= s.crashAfter {
		s.die(w)
		return
	}
	base := "http://" + r.Host
	p := r.URL.Path
	switch {
	case p == "/metadata":
		fhirJSON(w, 200, `{"resourceType":"CapabilityStatement","status":"active","date":"2026-01-01","kind":"instance",`+
			`"software":{"name":"stand-in bulk server","version":"0.9.1"},"fhirVersion":"4.0.1","format":["json"],`+
			`"instantiates":["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],`+
			`"rest":[{"mode":"server","resource":[{"type":"Group","interaction":[{"code":"read"}],`+
			`"operation":[{"name":"export","definition":"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"}]}]}]}`)
		return
	case p == "/.well-known/smart-configuration":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_endpoint":"%s/token","token_endpoint_auth_methods_supported":["private_key_jwt"],`+
			`"token_endpoint_auth_signing_alg_values_supported":["ES384"],"scopes_supported":["system/*.read"],`+
			`"capabilities":["client-confidential-asymmetric"]}`, base)
		return
	case p == "/token":
		s.token(w, r, base)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer standin-") {
		outcome(http.StatusUnauthorized, "login", "a bearer token is required")(w, r)
		return
	}
	group, rest, _ := strings.Cut(strings.TrimPrefix(p, "/Group/"), "/")
	switch {
	case strings.HasPrefix(p, "/Group/") && group != "g1":
		outcome(http.StatusNotFound, "not-found", "no Group "+group)(w, r)
	case p == "/Group/g1" && r.Method == http.MethodGet:
		fhirJSON(w, 200, standInGroup)
	case rest == "$export":
		if !strings.Contains(r.Header.Get("Prefer"), "respond-async") {
			outcome(http.StatusBadRequest, "invalid", "Prefer: respond-async is required")(w, r)
			return
		}
		w.Header().Set("Content-Location", base+"/status/1")
		w.WriteHeader(http.StatusAccepted)
	case strings.HasPrefix(rest, "$"):
		// An unknown operation: an HTML error page, as many servers give.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<!DOCTYPE html><html><body>Cannot "+r.Method+" "+p+"</body></html>")
	case p == "/status/1":
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		fmt.Fprintf(w, `{"transactionTime":"2026-03-01T12:00:00Z","request":"%s/Group/g1/$export",`+
			`"requiresAccessToken":true,"output":[{"type":"Patient","url":"%s/files/Patient.ndjson","count":2}],"error":[]}`, base, base)
	case p == "/files/Patient.ndjson":
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		io.WriteString(w, p1+"\n"+p2+"\n")
	default:
		outcome(http.StatusNotFound, "not-found", "Unknown resource or operation: "+r.Method+" "+p)(w, r)
	}
}

// token checks a SMART client assertion (ES384, the registered key and
// client, this token URL) and issues a token.
func (s *standIn) token(w http.ResponseWriter, r *http.Request, base string) {
	refuse := func(why string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q}`, why)
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
	if len(parts) != 3 {
		refuse("the client assertion is not a JWS")
		return
	}
	var claims struct {
		Iss string `json:"iss"`
		Aud any    `json:"aud"`
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		refuse("the client assertion's claims are unreadable")
		return
	}
	if claims.Iss != s.clientID {
		refuse("unknown client " + claims.Iss)
		return
	}
	if claims.Aud != base+"/token" {
		refuse("aud is not the token URL")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha512.Sum384([]byte(parts[0] + "." + parts[1]))
	if err != nil || len(sig) != 96 ||
		!ecdsa.Verify(s.key, digest[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])) {
		refuse("the signature does not verify with the registered key")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"standin-%d","token_type":"bearer","expires_in":300,"scope":"system/*.read"}`, s.tokens.Add(1))
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
