package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An unknown kid fetches the key set again, but at most once a minute
// per kid; a rotated-in key is found by that fetch.
func TestRemoteKeysRefetchOnUnknownKidAtMostOncePerMinute(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	s1, _ := NewSigner("iss", k1)
	s2, _ := NewSigner("iss", k2)
	var fetches atomic.Int64
	rotated := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		set := s1.JWKS()
		if rotated.Load() {
			set.Keys = append(set.Keys, s2.JWKS().Keys...)
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	r, err := NewRemoteKeys(srv.URL, RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	r.now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := r.Key(ctx, s1.KeyID()); err != nil || fetches.Load() != 1 {
		t.Fatalf("first key: %v after %d fetches", err, fetches.Load())
	}
	if _, err := r.Key(ctx, s1.KeyID()); err != nil || fetches.Load() != 1 {
		t.Fatalf("cached key: %v after %d fetches", err, fetches.Load())
	}
	for range 5 {
		if _, err := r.Key(ctx, "made-up"); err == nil {
			t.Fatal("a made-up kid was found")
		}
	}
	if fetches.Load() != 2 {
		t.Fatalf("5 lookups of one unknown kid made %d fetches, want 1 more", fetches.Load()-1)
	}
	rotated.Store(true)
	if _, err := r.Key(ctx, s2.KeyID()); err != nil {
		t.Fatalf("the rotated-in key: %v", err)
	}
	now = now.Add(RefetchEvery + time.Second)
	before := fetches.Load()
	_, _ = r.Key(ctx, "made-up")
	if fetches.Load() != before+1 {
		t.Fatal("a minute later the unknown kid did not fetch again")
	}
}

// The Kubernetes API server answers 406 unless the client accepts
// application/jwk-set+json (what the pods' service tokens are checked
// against on a local cluster).
func TestRemoteKeysAcceptWhatTheKubernetesAPIServerServes(t *testing.T) {
	key, _ := GenerateKey()
	s, _ := NewSigner("iss", key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "application/jwk-set+json") {
			http.Error(w, "not acceptable", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(s.JWKS())
	}))
	defer srv.Close()
	r, err := NewRemoteKeys(srv.URL, RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Key(context.Background(), s.KeyID()); err != nil {
		t.Fatal(err)
	}
}

// An inline key set with a symmetric key is refused, not used for HMAC.
func TestParseKeySetRefusesSecrets(t *testing.T) {
	if _, err := ParseKeySet([]byte(`{"keys":[{"kty":"oct","kid":"x","k":"c2VjcmV0"}]}`)); err == nil {
		t.Fatal("a symmetric key was accepted")
	}
}
