package config

import (
	"errors"
	"fmt"

	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/keys"
)

// Credentials builds the SMART client credentials of auth mode smart. The
// token URL is the caller's: configured (Auth.TokenURL) or discovered, which
// needs the network and so is not done here.
func (a *Auth) Credentials(tokenURL string) (smart.Credentials, error) {
	raw, err := a.Key()
	if err != nil {
		return smart.Credentials{}, err
	}
	key, err := keys.ParsePrivate(raw)
	if err != nil {
		return smart.Credentials{}, fmt.Errorf("auth private key: %w", err)
	}
	return smart.Credentials{
		ClientID: a.ClientID, KeyID: a.KeyID, Alg: a.Alg,
		Key: key, TokenURL: tokenURL, Scope: a.Scope,
	}, nil
}

// Credentials builds a second client's credentials (auth.other) for the same
// token URL, asking for scope.
func (c *Client) Credentials(tokenURL, scope string) (smart.Credentials, error) {
	if c.ClientID == "" {
		return smart.Credentials{}, errors.New("auth.other has no clientId")
	}
	if c.PrivateKey == "" {
		return smart.Credentials{}, errors.New("auth.other has no privateKey")
	}
	key, err := keys.ParsePrivate([]byte(c.PrivateKey))
	if err != nil {
		return smart.Credentials{}, fmt.Errorf("auth.other private key: %w", err)
	}
	return smart.Credentials{
		ClientID: c.ClientID, KeyID: c.KeyID, Alg: c.Alg,
		Key: key, TokenURL: tokenURL, Scope: scope,
	}, nil
}
