package runner

import (
	"context"
	"net/http"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/config"
)

// authorizer builds what authorizes the run's requests.
func authorizer(ctx context.Context, cfg *config.Config, hc *http.Client) (bulk.Authorizer, error) {
	switch cfg.Auth.Mode {
	case "none":
		return nil, nil
	case "bearer":
		return bulk.StaticToken(cfg.Auth.BearerToken), nil
	}
	// Discovery runs before any spec, outside the specs' bounded contexts:
	// the request timeout bounds it, so that a target that stalls cannot
	// hang the run.
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Request.Duration)
	defer cancel()
	creds, err := Credentials(dctx, cfg, hc)
	if err != nil {
		return nil, err
	}
	return &smart.TokenSource{Credentials: creds, HTTPClient: hc}, nil
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
