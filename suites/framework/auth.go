package framework

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
)

// SMART reports whether the run authorizes with SMART Backend Services, and
// otherwise a skip message naming the missing input.
func (e *Env) SMART() (bool, string) {
	if e.Config.Auth.Mode == "smart" {
		return true, ""
	}
	return false, "auth.mode is " + e.Config.Auth.Mode + ": this scenario needs SMART Backend Services credentials " +
		"(auth.mode smart with auth.clientId, auth.keyId and a private key)"
}

// TokenURL returns the token endpoint: auth.tokenUrl, or token_endpoint
// from .well-known/smart-configuration, discovered once per run.
func (e *Env) TokenURL(ctx context.Context) (string, error) {
	if e.Config.Auth.TokenURL != "" {
		return e.Config.Auth.TokenURL, nil
	}
	e.mu.Lock()
	u, failed := e.tokenURL, e.discoveryErr
	e.mu.Unlock()
	if u != "" {
		return u, nil
	}
	if failed != nil {
		e.Hit(PrereqDiscovery)
		return "", failed
	}
	u, err := smart.DiscoverTokenURL(ctx, e.HTTP, e.Config.Target)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	e.tokenURL = u
	e.mu.Unlock()
	return u, nil
}

// Credentials returns the run's SMART client credentials (auth mode smart).
func (e *Env) Credentials(ctx context.Context) (smart.Credentials, error) {
	tokenURL, err := e.TokenURL(ctx)
	if err != nil {
		return smart.Credentials{}, err
	}
	return e.Config.Auth.Credentials(tokenURL)
}

// OtherCredentials returns the second registered client's credentials
// (auth.other), asking for the run's scope.
func (e *Env) OtherCredentials(ctx context.Context) (smart.Credentials, error) {
	if e.Config.Auth.Other == nil {
		return smart.Credentials{}, errors.New("auth.other is not configured")
	}
	tokenURL, err := e.TokenURL(ctx)
	if err != nil {
		return smart.Credentials{}, err
	}
	return e.Config.Auth.Other.Credentials(tokenURL, e.Config.Auth.Scope)
}

// ClientAs returns a client that authorizes as creds, recording its
// exchanges like Client does. Its own token requests are not recorded: they
// are the means, not the subject, of the specs that use it.
func (e *Env) ClientAs(creds smart.Credentials) *bulk.Client {
	c := e.Client()
	c.Auth = &smart.TokenSource{Credentials: creds, HTTPClient: e.HTTP}
	return c
}

// TokenRequest posts a token request form to the token endpoint, sending no
// bearer token, and records the exchange (the client assertion and any
// access token are redacted from the evidence).
func (e *Env) TokenRequest(ctx context.Context, form url.Values) (*bulk.Response, error) {
	tokenURL, err := e.TokenURL(ctx)
	if err != nil {
		return nil, err
	}
	return e.Client().Do(ctx, bulk.Request{
		Method: http.MethodPost,
		URL:    tokenURL,
		Header: http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"},
			"Accept":       {"application/json"},
		},
		Body:   []byte(form.Encode()),
		NoAuth: true,
	})
}
