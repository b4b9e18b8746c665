package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/wiring/local"
)

// The runbook against a stack that checks tokens: `carrental token -jwks`
// prints the key set to give the stack, and the experiments' tokens,
// minted with that key for the stack's issuer and audience, verify
// against it — and not for another issuer.
func TestExperimentTokensVerifyAgainstThePrintedKeySet(t *testing.T) {
	dir := t.TempDir()
	getenv := func(string) string { return "" }
	var out bytes.Buffer
	if err := tokenCommand([]string{"-data", dir, "-jwks"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	jwks := strings.TrimSpace(out.String())
	if strings.Contains(jwks, `"d"`) {
		t.Fatalf("the key set carries the private key: %s", jwks)
	}
	keys, err := auth.NewStaticKeys(jwks)
	if err != nil {
		t.Fatalf("printed key set %s: %v", jwks, err)
	}
	const issuer, audience = "https://issuer.cluster.example", "carrental-cluster"
	mint, err := experimentTokens(filepath.Join(dir, local.KeyFile), issuer, audience)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mint("staff-experiments", contract.RoleStaff)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v := &auth.Verifier{Kind: auth.User, Issuer: issuer, Audience: audience, Keys: keys}
	id, err := v.Verify(ctx, tok)
	if err != nil || id.Subject != "staff-experiments" || !id.Has(contract.RoleStaff) {
		t.Fatalf("the stack's verifier: %+v, %v", id, err)
	}
	other := &auth.Verifier{Kind: auth.User, Issuer: "https://another.example", Audience: audience, Keys: keys}
	if _, err := other.Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("another issuer's verifier: %v, want invalid", err)
	}
}

func TestExperimentTokensRefuseHalfTheirFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ key, issuer, want string }{
		{"", "https://issuer.example", "-signing-key"},
		{filepath.Join(dir, "key.pem"), "", "-issuer"},
		{filepath.Join(dir, "absent.pem"), "https://issuer.example", "no such file"},
	} {
		if _, err := experimentTokens(c.key, c.issuer, contract.DefaultAudience); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("key %q issuer %q: %v, want an error naming %s", c.key, c.issuer, err, c.want)
		}
	}
	if mint, err := experimentTokens("", "", ""); mint != nil || err != nil {
		t.Errorf("no flags: %v, %v; want no tokens (authMode off)", mint != nil, err)
	}
	if _, err := experimentTokens(filepath.Join(dir, "absent.pem"), "https://issuer.example", ""); err == nil {
		t.Fatal("a missing key was accepted")
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*")); len(matches) > 0 {
		t.Fatalf("a key was made: %v", matches)
	}
}
