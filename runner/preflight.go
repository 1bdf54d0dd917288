package runner

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// Before any spec runs, the runner checks what is the tester's own doing:
// that the target answers at all, that the configured key can be read and
// signs with the configured algorithm, and that the token endpoint accepts
// the configured client. A mistake there would otherwise show as dozens of
// the server's requirements failing; it is a configuration error instead
// (exit 2), said once, with the fix. What is the server's doing (no SMART
// configuration, a token endpoint that answers 500) is not an error here: it
// becomes a root cause, and the specs that need it are blocked.

// ConfigError is a mistake in the tester's own setup, found before the
// suite ran: what is wrong, and what to do about it.
type ConfigError struct {
	What, Fix string
}

func (e *ConfigError) Error() string { return e.What + " " + e.Fix }

// UnreachableError is a target that does not answer at all: no spec can
// run against it.
type UnreachableError struct {
	Target string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s does not answer: GET %s/metadata got no answer (%s); no spec was run",
		e.Target, strings.TrimRight(e.Target, "/"), bulk.PlainNetError(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// reach reads the target's CapabilityStatement, which tells whether it
// answers at all and what software it is. Any HTTP answer will do: a
// server that protects /metadata or has none still answers.
func reach(ctx context.Context, c *bulk.Client, target string) (*framework.Capability, error) {
	c.Auth = nil
	cs, _, err := framework.ReadCapability(ctx, c)
	if err == nil {
		return cs, nil
	}
	var ue *x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ue), errors.As(err, &ce):
		return nil, &ConfigError{What: fmt.Sprintf("The target's TLS certificate is not trusted (%v).", err),
			Fix: "Set tls.caCert to the certificate of the CA that signed it."}
	case errors.As(err, &he):
		return nil, &ConfigError{What: fmt.Sprintf("The target's TLS certificate is not for its host (%v).", err),
			Fix: "Use the host name the certificate names in the target URL."}
	case bulk.ConnectionFailure(err) || errors.Is(err, bulk.ErrRequestTimeout) || errors.Is(err, context.DeadlineExceeded):
		return nil, &UnreachableError{Target: target, Err: err}
	}
	// An answer that is not a CapabilityStatement: the target answers; the
	// Discovery specs judge the rest.
	return nil, nil
}

// checkKeys reads the configured private keys and checks that each signs
// with its configured algorithm.
func checkKeys(cfg *config.Config) error {
	if cfg.Auth.Mode != "smart" {
		return nil
	}
	raw, err := cfg.Auth.Key()
	if err != nil {
		return &ConfigError{What: fmt.Sprintf("The private key of auth cannot be read (%v).", err),
			Fix: "Point auth.privateKeyFile at a readable PEM or JWK file, or give the key in auth.privateKey or PDEX_CONFORM_PRIVATE_KEY."}
	}
	if err := checkKey("auth", raw, cfg.Auth.Alg); err != nil {
		return err
	}
	if o := cfg.Auth.Other; o != nil {
		alg := o.Alg
		if err := checkKey("auth.other", []byte(o.PrivateKey), alg); err != nil {
			return err
		}
	}
	return nil
}

func checkKey(where string, raw []byte, alg string) error {
	key, err := keys.ParsePrivate(raw)
	if err != nil {
		return &ConfigError{What: fmt.Sprintf("The private key of %s is not a usable signing key (%v).", where, err),
			Fix: "Give an RSA key of at least 2048 bits (RS384) or an EC P-384 key (ES384), as PEM (PKCS#8, PKCS#1 or SEC 1) or as a JWK."}
	}
	fits, err := keys.AlgFor(key)
	if err != nil {
		return &ConfigError{What: fmt.Sprintf("The private key of %s cannot sign a SMART client assertion: %v.", where, err),
			Fix: "SMART Backend Services signs with RS384 (RSA, 2048 bits or more) or ES384 (EC P-384)."}
	}
	if alg != "" && alg != fits {
		return &ConfigError{What: fmt.Sprintf("%s.alg is %s, but its private key is %s, which signs %s.", where, alg, keyKind(fits), fits),
			Fix: fmt.Sprintf("Set %s.alg to %s, or give a key that signs %s.", where, fits, alg)}
	}
	return nil
}

func keyKind(alg string) string {
	if alg == keys.ES384 {
		return "an EC P-384 key"
	}
	return "an RSA key"
}

// OAuth error codes that say the client itself was refused: its id, key,
// kid or scope are not what the server registered. For a correct assertion
// that is the tester's configuration (or registration), not the server's
// conformance.
var clientRefusals = map[string]string{
	"invalid_client":      "the server does not accept the client's credentials",
	"unauthorized_client": "the client is not allowed this grant",
	"invalid_scope":       "the scope asked for is not granted to the client",
	"invalid_grant":       "the grant was refused",
}

// tokenRefusal returns a configuration error when the token endpoint
// refused the client's own, correct, assertion (SMART Backend Services:
// invalid_client for an unknown client or key), and nil otherwise.
func tokenRefusal(where string, creds smart.Credentials, err error) error {
	var te *smart.TokenError
	if !errors.As(err, &te) {
		return nil
	}
	why, ok := clientRefusals[te.Code]
	if !ok {
		return nil
	}
	detail := te.Code
	if te.Description != "" {
		detail += ": " + te.Description
	}
	return &ConfigError{
		What: fmt.Sprintf("The token endpoint %s refused the configured client's own credentials with HTTP %d (%s): %s.",
			creds.TokenURL, te.StatusCode, detail, why),
		Fix: fmt.Sprintf("Check %s.clientId (%s), %s.keyId (%s) and %s.scope (%s), and that the server has the public key of %s's private key registered for this client.",
			where, creds.ClientID, where, cmp.Or(creds.KeyID, "none"), where, cmp.Or(creds.Scope, "none"), where),
	}
}

// guardedAuth charges a token that cannot be had to the prerequisite "an
// access token": the specs that need one are blocked by it, and the
// verdict names it first. A target that stopped answering is the Liveness'
// to report.
type guardedAuth struct {
	inner bulk.Authorizer
	env   *framework.Env
}

func (g guardedAuth) Token(ctx context.Context) (string, error) {
	tok, err := g.inner.Token(ctx)
	if err == nil || ctx.Err() != nil || errors.Is(err, bulk.ErrTargetDown) || bulk.ConnectionFailure(err) {
		return tok, err
	}
	var pe *framework.PrerequisiteError
	if errors.As(err, &pe) {
		g.env.Hit(pe.Prerequisite)
		return "", err
	}
	c := framework.Cause{
		Prerequisite: framework.PrereqToken,
		What:         "The token endpoint did not issue an access token for a correct client assertion: " + err.Error() + ".",
		Fix:          "Make the token endpoint answer a correct SMART Backend Services token request with an access token (the Authorization specs show the exchange).",
	}
	g.env.NoteCause(c)
	g.env.Hit(c.Prerequisite)
	return "", &framework.PrerequisiteError{Prerequisite: c.Prerequisite, Reason: c.What, Err: err}
}

func (g guardedAuth) Invalidate() { g.inner.Invalidate() }

// failedAuth stands for a token source that cannot exist (no token
// endpoint was found).
type failedAuth struct{ err error }

func (f failedAuth) Token(context.Context) (string, error) { return "", f.err }
func (f failedAuth) Invalidate()                           {}

var _ http.RoundTripper = (*bulk.Liveness)(nil)
