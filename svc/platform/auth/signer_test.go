package auth

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestLoadOrCreateKeyKeepsOneKeyBetweenRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "signing-key.pem")
	first, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Equal(again) {
		t.Error("the second run made a new key")
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Error("a garbled key file was accepted")
	}
}

func TestMintedTokenVerifiesWithTheJWKSAlone(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner("http://issuer.test", key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Mint(Token{Subject: "cus01", Roles: []string{"customer"}, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{SigningAlgorithm})
	if err != nil {
		t.Fatal(err)
	}
	if kid := tok.Headers[0].KeyID; kid != s.KeyID() {
		t.Errorf("kid %q, want %q", kid, s.KeyID())
	}
	set := s.JWKS()
	if !set.Keys[0].IsPublic() {
		t.Fatal("the JWKS holds a private key")
	}
	var std jwt.Claims
	var extra struct {
		Groups []string `json:"groups"`
	}
	if err := tok.Claims(set.Keys[0].Key, &std, &extra); err != nil {
		t.Fatal(err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: "http://issuer.test", AnyAudience: jwt.Audience{"carrental"}, Time: time.Now()}, 0); err != nil {
		t.Error(err)
	}
	if std.Subject != "cus01" || len(extra.Groups) != 1 || extra.Groups[0] != "customer" {
		t.Errorf("claims %+v %+v", std, extra)
	}
	if _, err := s.Mint(Token{}); err == nil {
		t.Error("a token without a subject was minted")
	}
}
