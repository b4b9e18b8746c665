// Package auth is who a request is (docs/design-auth.md): tokens are
// verified here and minted here by the issuers this repository runs
// itself — the one-process run's local issuer and the end-to-end harness.
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/carrental/carrental/svc/contract"
)

// SigningAlgorithm is what the issuers here sign with: ES256 (P-256),
// short keys and signatures, and in every verifier's allow-list.
const SigningAlgorithm = jose.ES256

// GenerateKey makes a new P-256 signing key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// LoadOrCreateKey reads the PKCS#8 PEM key at path, or creates one there
// (mode 0600, its directory 0700) when there is none, so tokens minted in
// one run stay valid in the next.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return parseKey(path, b)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("signing key: %w", err)
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	// O_EXCL: two processes starting at once keep one key, not two.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, nil
}

// LoadKey reads the PKCS#8 PEM key at path and never makes one: a key
// that mints tokens for a running cluster must be the one it trusts.
func LoadKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return parseKey(path, b)
}

func parseKey(path string, b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key %s: want a P-256 ECDSA key, got %T", path, k)
	}
	return key, nil
}

// Signer mints tokens of one issuer with one key.
type Signer struct {
	issuer string
	key    *ecdsa.PrivateKey
	kid    string
	sign   jose.Signer
	now    func() time.Time
}

// NewSigner returns a signer for issuer (the tokens' iss) whose key ID is
// the key's RFC 7638 thumbprint.
func NewSigner(issuer string, key *ecdsa.PrivateKey) (*Signer, error) {
	if issuer == "" || key == nil {
		return nil, errors.New("signer: an issuer and a key are required")
	}
	thumb, err := (&jose.JSONWebKey{Key: &key.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	sign, err := jose.NewSigner(jose.SigningKey{Algorithm: SigningAlgorithm, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &Signer{issuer: issuer, key: key, kid: kid, sign: sign, now: time.Now}, nil
}

// Issuer is the tokens' iss.
func (s *Signer) Issuer() string { return s.issuer }

// KeyID is the kid every token names.
func (s *Signer) KeyID() string { return s.kid }

// JWKS is the public key set a verifier needs, and nothing private.
func (s *Signer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: string(SigningAlgorithm), Use: "sig",
	}}}
}

// Token is what one minted token says.
type Token struct {
	Subject  string
	Audience string        // default contract.DefaultAudience
	Roles    []string      // written to RolesClaim
	TTL      time.Duration // default one hour
	// RolesClaim names the roles claim (default contract.DefaultRolesClaim).
	RolesClaim string
}

// Mint signs t.
func (s *Signer) Mint(t Token) (string, error) {
	if t.Subject == "" {
		return "", errors.New("mint: a subject is required")
	}
	if t.Audience == "" {
		t.Audience = contract.DefaultAudience
	}
	if t.TTL == 0 {
		t.TTL = time.Hour
	}
	if t.TTL < 0 {
		return "", fmt.Errorf("mint: ttl %s is negative", t.TTL)
	}
	if t.RolesClaim == "" {
		t.RolesClaim = contract.DefaultRolesClaim
	}
	now := s.now()
	claims := jwt.Claims{
		Issuer: s.issuer, Subject: t.Subject, Audience: jwt.Audience{t.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(t.TTL)),
	}
	roles := t.Roles
	if roles == nil {
		roles = []string{}
	}
	return jwt.Signed(s.sign).Claims(claims).Claims(map[string]any{t.RolesClaim: roles}).Serialize()
}
