package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeySet finds the public key a token names by its kid.
type KeySet interface {
	Key(ctx context.Context, kid string) (jose.JSONWebKey, error)
}

// errUnknownKey is a kid the issuer's key set does not hold.
var errUnknownKey = errors.New("the token names a key the issuer does not have")

// StaticKeys is a key set given inline (AUTH_JWKS): it never changes.
type StaticKeys struct{ keys map[string]jose.JSONWebKey }

// ParseKeySet reads a JWKS document, keeping only public signing keys:
// a symmetric or private key in it is refused rather than used, so a
// misconfiguration cannot turn on HMAC with a shared secret.
func ParseKeySet(b []byte) (map[string]jose.JSONWebKey, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	keys := map[string]jose.JSONWebKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.Valid() || !k.IsPublic() {
			return nil, fmt.Errorf("key set: key %q is not a public key", k.KeyID)
		}
		keys[k.KeyID] = k
	}
	if len(keys) == 0 {
		return nil, errors.New("key set: no signing keys")
	}
	return keys, nil
}

// NewStaticKeys parses an inline key set.
func NewStaticKeys(jwks string) (*StaticKeys, error) {
	keys, err := ParseKeySet([]byte(jwks))
	if err != nil {
		return nil, err
	}
	return &StaticKeys{keys: keys}, nil
}

// Key returns the key named kid.
func (s *StaticKeys) Key(_ context.Context, kid string) (jose.JSONWebKey, error) {
	k, ok := s.keys[kid]
	if !ok {
		return jose.JSONWebKey{}, errUnknownKey
	}
	return k, nil
}

// RefetchEvery bounds how often an unknown kid makes the key set be
// fetched again: a stream of tokens with made-up kids cannot turn the
// verifier into a flood on the issuer.
const RefetchEvery = time.Minute

// RemoteKeys is an issuer's key set fetched from its JWKS URI, cached,
// and fetched again when a token names a kid it does not hold (the
// issuer rotated its keys), at most once per RefetchEvery per kid.
type RemoteKeys struct {
	uri    string
	client *http.Client
	bearer string // file with a bearer token for the fetch ("" for none)
	now    func() time.Time

	mu    sync.RWMutex
	keys  map[string]jose.JSONWebKey
	tried map[string]time.Time // kid -> when it last made a fetch

	fetching sync.Mutex // one fetch at a time
}

// RemoteOptions say how to reach a JWKS URI that asks for more than
// plain HTTPS: a Kubernetes API server's /openid/v1/jwks wants its CA and
// a ServiceAccount token.
type RemoteOptions struct {
	CAFile, BearerTokenFile string
	Timeout                 time.Duration // default 5s
}

// NewRemoteKeys fetches keys from uri when first needed.
func NewRemoteKeys(uri string, o RemoteOptions) (*RemoteKeys, error) {
	if !strings.HasPrefix(uri, "https://") && !strings.HasPrefix(uri, "http://") {
		return nil, fmt.Errorf("JWKS URI %q: want an http(s) URL", uri)
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("JWKS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("JWKS CA %s: no certificates", o.CAFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &RemoteKeys{uri: uri, client: &http.Client{Timeout: o.Timeout, Transport: t}, bearer: o.BearerTokenFile,
		now: time.Now, tried: map[string]time.Time{}}, nil
}

// Key returns the key named kid, fetching the set when kid is new to it.
func (r *RemoteKeys) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if k, ok := r.cached(kid); ok {
		return k, nil
	}
	r.fetching.Lock()
	defer r.fetching.Unlock()
	if k, ok := r.cached(kid); ok { // fetched while we waited
		return k, nil
	}
	r.mu.RLock()
	last, seen := r.tried[kid]
	r.mu.RUnlock()
	if seen && r.now().Sub(last) < RefetchEvery {
		return jose.JSONWebKey{}, errUnknownKey
	}
	keys, err := r.fetch(ctx)
	r.mu.Lock()
	r.tried[kid] = r.now()
	if len(r.tried) > 1024 { // made-up kids must not grow it without bound
		clear(r.tried)
		r.tried[kid] = r.now()
	}
	if err == nil {
		r.keys = keys
	}
	r.mu.Unlock()
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return jose.JSONWebKey{}, errUnknownKey
}

func (r *RemoteKeys) cached(kid string) (jose.JSONWebKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.keys[kid]
	return k, ok
}

func (r *RemoteKeys) fetch(ctx context.Context) (map[string]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.uri, nil)
	if err != nil {
		return nil, err
	}
	// The Kubernetes API server serves its key set only as
	// application/jwk-set+json and answers 406 to a plain JSON Accept;
	// OIDC providers (Cognito) serve application/json.
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if r.bearer != "" {
		tok, err := os.ReadFile(r.bearer) // re-read: kubelet rotates it
		if err != nil {
			return nil, fmt.Errorf("JWKS bearer token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the key set: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetching the key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the key set: %s answered %d", r.uri, resp.StatusCode)
	}
	return ParseKeySet(b)
}
