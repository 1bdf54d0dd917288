package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/pdex-conform/pdex-conform/runner/auth"
	"github.com/pdex-conform/pdex-conform/runner/bulk"
	"github.com/pdex-conform/pdex-conform/runner/config"
)

// authorizer builds what authorizes the run's requests.
func authorizer(ctx context.Context, cfg *config.Config, hc *http.Client) (bulk.Authorizer, error) {
	switch cfg.Auth.Mode {
	case "none":
		return nil, nil
	case "bearer":
		return bulk.StaticToken(cfg.Auth.BearerToken), nil
	}
	creds, err := Credentials(ctx, cfg, hc)
	if err != nil {
		return nil, err
	}
	return &auth.TokenSource{Credentials: creds, HTTPClient: hc}, nil
}

// Credentials returns the configured SMART client's credentials, with the
// token URL discovered when not configured.
func Credentials(ctx context.Context, cfg *config.Config, hc *http.Client) (auth.Credentials, error) {
	raw, err := cfg.Auth.Key()
	if err != nil {
		return auth.Credentials{}, err
	}
	key, err := auth.ParsePrivateKey(raw)
	if err != nil {
		return auth.Credentials{}, fmt.Errorf("auth private key: %w", err)
	}
	tokenURL := cfg.Auth.TokenURL
	if tokenURL == "" {
		if tokenURL, err = DiscoverTokenURL(ctx, hc, cfg.Target); err != nil {
			return auth.Credentials{}, err
		}
	}
	return auth.Credentials{
		ClientID: cfg.Auth.ClientID, KeyID: cfg.Auth.KeyID, Alg: cfg.Auth.Alg,
		Key: key, TokenURL: tokenURL, Scope: cfg.Auth.Scope,
	}, nil
}

// DiscoverTokenURL reads token_endpoint from .well-known/smart-configuration.
func DiscoverTokenURL(ctx context.Context, hc *http.Client, base string) (string, error) {
	u := strings.TrimRight(base, "/") + "/.well-known/smart-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovering the token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("discovering the token endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovering the token endpoint: %s answered HTTP %d (set auth.tokenUrl to skip discovery)", u, resp.StatusCode)
	}
	var sc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &sc); err != nil || sc.TokenEndpoint == "" {
		return "", fmt.Errorf("discovering the token endpoint: %s has no token_endpoint (set auth.tokenUrl)", u)
	}
	return sc.TokenEndpoint, nil
}
