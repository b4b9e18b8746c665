package auth

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// countingKeys counts the key lookups: one per signature check.
type countingKeys struct {
	KeySet
	lookups int
}

func (c *countingKeys) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	c.lookups++
	return c.KeySet.Key(ctx, kid)
}

// A token verified once is not checked again on every request, but never
// outlives its exp or CacheFor, and other bytes are never a hit.
func TestVerifiedTokensAreCachedUntilTheyExpire(t *testing.T) {
	key, _ := GenerateKey()
	s, _ := NewSigner("https://issuer.test", key)
	now := time.Unix(2_000_000_000, 0)
	s.now = func() time.Time { return now }
	static, err := NewStaticKeys(mustJSON(t, s.JWKS()))
	if err != nil {
		t.Fatal(err)
	}
	keys := &countingKeys{KeySet: static}
	v := &Verifier{Kind: User, Issuer: "https://issuer.test", Audience: "carrental", Keys: keys, Now: func() time.Time { return now }}
	short, _ := s.Mint(Token{Subject: "cus01", Roles: []string{"customer"}, TTL: 10 * time.Second})
	long, _ := s.Mint(Token{Subject: "cus02", Roles: []string{"customer"}, TTL: time.Hour})
	ctx := context.Background()
	for range 3 {
		id, err := v.Verify(ctx, short)
		if err != nil || id.Subject != "cus01" || !id.Has("customer") {
			t.Fatalf("verify: %+v %v", id, err)
		}
	}
	if keys.lookups != 1 {
		t.Errorf("3 verifications of one token made %d signature checks, want 1", keys.lookups)
	}
	tampered := short[:len(short)-2] + "AA"
	if _, err := v.Verify(ctx, tampered); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a tampered copy of a cached token: %v, want invalid", err)
	}
	if _, err := v.Verify(ctx, long); err != nil {
		t.Fatal(err)
	}
	// Past exp + leeway: the cache does not keep an expired token alive.
	now = now.Add(10*time.Second + Leeway + time.Second) // within CacheFor
	if _, err := v.Verify(ctx, short); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("an expired token was accepted from the cache: %v", err)
	}
	// Past CacheFor: the long token is checked again (and still valid).
	before := keys.lookups
	now = now.Add(CacheFor)
	if _, err := v.Verify(ctx, long); err != nil || keys.lookups != before+1 {
		t.Errorf("after CacheFor: err %v, %d new checks, want 1", err, keys.lookups-before)
	}
}

func mustJSON(t *testing.T, set jose.JSONWebKeySet) string {
	t.Helper()
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
