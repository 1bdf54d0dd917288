package runner

import (
	"context"
	"net/http"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// authorizer builds what authorizes the run's requests, and checks before
// the run that the token endpoint accepts the configured clients: a refusal
// of their own credentials is a ConfigError. A token endpoint that cannot
// be discovered, or that fails otherwise, is the server's: a root cause, and
// the specs that need a token are blocked by it. ts is the run client's
// token source (nil unless auth mode smart found a token endpoint).
func authorizer(ctx context.Context, cfg *config.Config, hc *http.Client, env *framework.Env) (a bulk.Authorizer, ts *smart.TokenSource, err error) {
	switch cfg.Auth.Mode {
	case "none":
		return nil, nil, nil
	case "bearer":
		return bulk.StaticToken(cfg.Auth.BearerToken), nil, nil
	}
	// These exchanges come before any spec, outside the specs' bounded
	// contexts: the request timeout bounds each, so that a target that
	// stalls cannot hang the run.
	tokenURL := cfg.Auth.TokenURL
	if tokenURL == "" {
		dctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Request.Duration)
		defer cancel()
		if tokenURL, err = smart.DiscoverTokenURL(dctx, hc, cfg.Target); err != nil {
			c := framework.Cause{
				Prerequisite: framework.PrereqDiscovery,
				What:         "The server gave no token endpoint: " + err.Error() + ".",
				Fix:          "Publish .well-known/smart-configuration with token_endpoint (SMART App Launch 2.x, Backend Services), or set auth.tokenUrl in the configuration.",
			}
			env.SetDiscoveryFailed(c)
			return guardedAuth{inner: failedAuth{&framework.PrerequisiteError{Prerequisite: c.Prerequisite, Reason: c.What, Err: err}}, env: env}, nil, nil
		}
	}
	env.SetTokenURL(tokenURL)
	creds, err := cfg.Auth.Credentials(tokenURL)
	if err != nil {
		return nil, nil, &ConfigError{What: "The SMART client credentials cannot be built (" + err.Error() + ").", Fix: "Check auth.clientId, auth.keyId, auth.alg and the private key."}
	}
	ts = &smart.TokenSource{Credentials: creds, HTTPClient: hc}
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Request.Duration)
	defer cancel()
	if _, err := ts.Token(tctx); err != nil {
		if ce := tokenRefusal("auth", creds, err); ce != nil {
			return nil, nil, ce
		}
		// Otherwise the server's: the guard reports it when a spec needs a
		// token.
	}
	if o := cfg.Auth.Other; o != nil {
		oc, err := o.Credentials(tokenURL, cfg.Auth.Scope)
		if err != nil {
			return nil, nil, &ConfigError{What: "The credentials of auth.other cannot be built (" + err.Error() + ").", Fix: "Check auth.other's clientId, keyId, alg and privateKey."}
		}
		ots := &smart.TokenSource{Credentials: oc, HTTPClient: hc}
		if _, err := ots.Token(tctx); err != nil {
			if ce := tokenRefusal("auth.other", oc, err); ce != nil {
				return nil, nil, ce
			}
		}
	}
	return guardedAuth{inner: ts, env: env}, ts, nil
}

// Credentials returns the configured SMART client's credentials, with the
// token URL discovered when not configured.
func Credentials(ctx context.Context, cfg *config.Config, hc *http.Client) (smart.Credentials, error) {
	tokenURL := cfg.Auth.TokenURL
	if tokenURL == "" {
		var err error
		if tokenURL, err = smart.DiscoverTokenURL(ctx, hc, cfg.Target); err != nil {
			return smart.Credentials{}, err
		}
	}
	return cfg.Auth.Credentials(tokenURL)
}
