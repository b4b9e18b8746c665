package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/carrental/carrental/svc/contract"
)

// Algorithms is the allow-list: asymmetric signatures only. No "none",
// and no HMAC, so a public key can never be used as a shared secret.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// Leeway is how far clocks may disagree on exp, nbf and iat.
const Leeway = 30 * time.Second

// Kind tells an end user from a service.
type Kind int

const (
	User Kind = iota + 1
	ServiceKind
	// Unchecked is every request when AUTH_MODE=off: the checks are off,
	// so it may do what staff may.
	Unchecked
)

// Identity is who a request is.
type Identity struct {
	Kind    Kind
	Subject string
	Roles   []string
	// Service and Namespace name a service identity.
	Service   contract.Service
	Namespace string
	// Token is the bearer token as received, forwarded on calls made for
	// this identity.
	Token string
}

// Has reports whether the identity holds role (Unchecked holds every role).
func (i *Identity) Has(role string) bool {
	if i == nil {
		return false
	}
	return i.Kind == Unchecked || (i.Kind == User && slices.Contains(i.Roles, role))
}

type ctxKey struct{}

// WithIdentity is ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext is the request's identity; nil when anonymous.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(ctxKey{}).(*Identity)
	return id
}

// Verifier checks the tokens of one issuer for one audience.
type Verifier struct {
	Kind       Kind // User or ServiceKind
	Issuer     string
	Audience   string
	RolesClaim string // users only
	Keys       KeySet
	Now        func() time.Time

	// Verified tokens, by their exact bytes: a client sends the same
	// token on every request, and each is checked at the gateway and
	// again in every service it reaches, so the signature check (most of
	// the cost) is done once per token and process, not per request.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	id    Identity
	until time.Time // the token's exp, at most CacheFor after the check
}

// CacheFor bounds how long a verified token is taken without a new
// signature check (a key dropped from the issuer's set stops working
// within it); CacheEntries bounds the memory (the cache starts over when
// full).
const (
	CacheFor     = time.Minute
	CacheEntries = 10_000
)

// ErrInvalidToken is every reason a token is refused; the caller hears
// only that (401 invalid_token), the log the detail.
var ErrInvalidToken = errors.New("invalid token")

// Verify checks raw's signature, algorithm, issuer, audience and times,
// and returns who it names.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Identity, error) {
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return v.verify(ctx, raw, tok)
}

func (v *Verifier) verify(ctx context.Context, raw string, tok *jwt.JSONWebToken) (*Identity, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	if id, ok := v.cachedAt(raw, t); ok {
		return id, nil
	}
	id, exp, err := v.check(ctx, raw, tok, t)
	if err != nil {
		return nil, err
	}
	until := t.Add(CacheFor)
	if exp.Before(until) {
		until = exp
	}
	v.mu.Lock()
	if v.verified == nil || len(v.verified) >= CacheEntries {
		v.verified = make(map[string]verifiedToken)
	}
	v.verified[raw] = verifiedToken{id: *id, until: until}
	v.mu.Unlock()
	return id, nil
}

// cached is who raw names when this verifier accepted exactly these
// bytes less than CacheFor ago and they have not expired: the caller
// may skip parsing them.
func (v *Verifier) cached(raw string) (*Identity, bool) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	return v.cachedAt(raw, now())
}

func (v *Verifier) cachedAt(raw string, t time.Time) (*Identity, bool) {
	v.mu.Lock()
	hit, ok := v.verified[raw]
	v.mu.Unlock()
	if !ok || !t.Before(hit.until) {
		return nil, false
	}
	id := hit.id
	return &id, true
}

// check verifies tok at time t and returns who it names and its expiry.
func (v *Verifier) check(ctx context.Context, raw string, tok *jwt.JSONWebToken, t time.Time) (*Identity, time.Time, error) {
	if len(tok.Headers) != 1 {
		return nil, time.Time{}, fmt.Errorf("%w: want one signature", ErrInvalidToken)
	}
	h := tok.Headers[0]
	key, err := v.Keys.Key(ctx, h.KeyID)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	// The key decides the algorithm, not the token: an RSA key only
	// verifies RS256, an EC key only ES256.
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, time.Time{}, fmt.Errorf("%w: key %s is for %s, the token says %s", ErrInvalidToken, h.KeyID, key.Algorithm, h.Algorithm)
	}
	var claims jwt.Claims
	extra := map[string]any{}
	if err := tok.Claims(key.Key, &claims, &extra); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if claims.Expiry == nil {
		return nil, time.Time{}, fmt.Errorf("%w: no exp", ErrInvalidToken)
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: v.Issuer, AnyAudience: jwt.Audience{v.Audience}, Time: t}, Leeway); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if claims.Subject == "" {
		return nil, time.Time{}, fmt.Errorf("%w: no sub", ErrInvalidToken)
	}
	id := &Identity{Kind: v.Kind, Subject: claims.Subject, Token: raw}
	switch v.Kind {
	case ServiceKind:
		ns, svc, ok := ParseServiceSubject(claims.Subject)
		if !ok {
			return nil, time.Time{}, fmt.Errorf("%w: subject %q is not a service's", ErrInvalidToken, claims.Subject)
		}
		id.Namespace, id.Service = ns, svc
	default:
		claim := v.RolesClaim
		if claim == "" {
			claim = contract.DefaultRolesClaim
		}
		if list, ok := extra[claim].([]any); ok {
			for _, r := range list {
				if s, ok := r.(string); ok {
					id.Roles = append(id.Roles, s)
				}
			}
		}
	}
	return id, claims.Expiry.Time(), nil
}

// ParseServiceSubject splits contract.ServiceSubject's form.
func ParseServiceSubject(sub string) (namespace string, s contract.Service, ok bool) {
	rest, ok := strings.CutPrefix(sub, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	ns, name, ok := strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return ns, contract.Service(name), true
}

// issuerOf reads iss without trusting it, only to pick the verifier;
// the chosen verifier checks everything again.
func issuerOf(tok *jwt.JSONWebToken) string {
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return ""
	}
	return c.Issuer
}
