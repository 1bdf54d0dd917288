package smart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxTokenResponse bounds how much of a token response is read: a real
// one is a few hundred bytes, and a misbehaving server must not make the
// harness buffer gigabytes.
const maxTokenResponse = 1 << 20

// DefaultTokenLifetime is assumed when a token response has no expires_in.
const DefaultTokenLifetime = 5 * time.Minute

// TokenResponse is a successful token endpoint answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// TokenError is a token endpoint refusal (any non-2xx status).
type TokenError struct {
	StatusCode int
	// Code and Description are the OAuth "error" and "error_description",
	// empty when the body is not an OAuth error object.
	Code, Description string
}

func (e *TokenError) Error() string {
	msg := fmt.Sprintf("token endpoint refused the request: HTTP %d", e.StatusCode)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// RequestToken posts form to the token endpoint. The returned response's
// body has been read (at most 1 MiB) and closed; resp.Body is replaced by a
// reader over the captured bytes so callers can record it as evidence.
// A non-2xx status gives a *TokenError; a 2xx answer without a usable
// bearer token gives an error too. resp is returned whenever one arrived.
func RequestToken(ctx context.Context, hc *http.Client, tokenURL string, form url.Values) (*TokenResponse, *http.Response, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("token request: %w", err)
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	resp.Body.Close()
	tooLong := len(body) > maxTokenResponse
	if tooLong {
		body = body[:maxTokenResponse]
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if readErr != nil {
		return nil, resp, fmt.Errorf("token request: reading the response: %w", readErr)
	}
	if tooLong {
		return nil, resp, fmt.Errorf("token request: response larger than %d bytes", maxTokenResponse)
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		te := &TokenError{StatusCode: resp.StatusCode}
		var oauth struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &oauth) == nil {
			te.Code, te.Description = oauth.Error, oauth.Description
		}
		return nil, resp, te
	}
	var tr TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, resp, fmt.Errorf("token response (HTTP %d) is not the expected JSON object: %w", resp.StatusCode, err)
	}
	switch {
	case tr.AccessToken == "":
		return nil, resp, errors.New("token response has no access_token")
	case !strings.EqualFold(tr.TokenType, "bearer"):
		return nil, resp, fmt.Errorf("token response has token_type %q, want bearer", tr.TokenType)
	case tr.ExpiresIn < 0:
		return nil, resp, fmt.Errorf("token response has negative expires_in %d", tr.ExpiresIn)
	}
	return &tr, resp, nil
}

// TokenSource obtains access tokens with fresh client assertions, caches the
// current one and renews it shortly before it expires. It is safe for
// concurrent use; concurrent callers share one token request. Set the
// exported fields before the first call and do not copy it afterwards.
type TokenSource struct {
	Credentials Credentials
	// HTTPClient sends the token requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RenewBefore is how long before expiry a token is replaced; zero means
	// 30 s, capped at half the token's lifetime.
	RenewBefore time.Duration

	mu       sync.Mutex
	token    string
	renewAt  time.Time
	inflight *tokenCall
}

type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

func (s *TokenSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Token returns a valid access token, requesting a new one when there is
// none or the cached one is due for renewal.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		if s.token != "" && s.now().Before(s.renewAt) {
			tok := s.token
			s.mu.Unlock()
			return tok, nil
		}
		if call := s.inflight; call != nil {
			s.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			// A request that died with its starter's context says nothing
			// about ours: try again.
			if call.err != nil && isContextErr(call.err) && ctx.Err() == nil {
				continue
			}
			return call.token, call.err
		}
		call := &tokenCall{done: make(chan struct{})}
		s.inflight = call
		s.mu.Unlock()

		tok, renewAt, err := s.fetch(ctx)

		s.mu.Lock()
		if err == nil {
			s.token, s.renewAt = tok, renewAt
		}
		call.token, call.err = tok, err
		s.inflight = nil
		close(call.done)
		s.mu.Unlock()
		return tok, err
	}
}

// Invalidate drops the cached token, e.g. after the server answered 401.
func (s *TokenSource) Invalidate() {
	s.mu.Lock()
	s.token, s.renewAt = "", time.Time{}
	s.mu.Unlock()
}

func (s *TokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	start := s.now()
	assertion, err := s.Credentials.Assertion(AssertionOptions{Now: start})
	if err != nil {
		return "", time.Time{}, err
	}
	tr, _, err := RequestToken(ctx, s.HTTPClient, s.Credentials.TokenURL, Form(assertion, s.Credentials.Scope))
	if err != nil {
		return "", time.Time{}, err
	}
	life := DefaultTokenLifetime
	if tr.ExpiresIn > 0 {
		life = time.Duration(tr.ExpiresIn) * time.Second
	}
	margin := s.RenewBefore
	if margin <= 0 {
		margin = 30 * time.Second
	}
	margin = min(margin, life/2)
	// Lifetime counts from before the request left, so network delay only
	// makes the renewal earlier, never late.
	return tr.AccessToken, start.Add(life - margin), nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
