package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/wiring/local"
)

// tokenCommand mints a user token with the local issuer's key, or prints
// that key's public key set (for a local stack's carrental:authJwks):
//
//	carrental token --role customer --sub cus01 [--ttl 1h] [-data ./data]
//	carrental token -jwks [-data ./data]
func tokenCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr(getenv, contract.EnvDataDir, "./data"), "the data directory of the local run (its signing key)")
	role := fs.String("role", contract.RoleCustomer, "staff or customer")
	sub := fs.String("sub", "", "the subject: a customer's custNo (default cus01; staff01 for staff)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	issuer := fs.String("issuer", "", "the tokens' iss (default: the one the local run last wrote, else http://127.0.0.1:8086)")
	audience := fs.String("audience", contract.DefaultAudience, "the tokens' aud (a stack's carrental:authAudience)")
	jwks := fs.Bool("jwks", false, "print the key's public key set (JSON, nothing private) instead of a token: a local stack's carrental:authJwks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected %q", fs.Args())
	}
	if *role != contract.RoleStaff && *role != contract.RoleCustomer {
		return fmt.Errorf("token: --role %q: want %s", *role, strings.Join(contract.Roles(), " or "))
	}
	if *ttl <= 0 {
		return errors.New("token: --ttl must be positive")
	}
	if *sub == "" {
		*sub = map[string]string{contract.RoleStaff: "staff01", contract.RoleCustomer: "cus01"}[*role]
	}
	if *issuer == "" {
		*issuer = fmt.Sprintf("http://127.0.0.1:%d", contract.LocalIssuerPort)
		if b, err := os.ReadFile(filepath.Join(*dataDir, local.IssuerFile)); err == nil && strings.TrimSpace(string(b)) != "" {
			*issuer = strings.TrimSpace(string(b))
		}
	}
	key, err := auth.LoadOrCreateKey(filepath.Join(*dataDir, local.KeyFile))
	if err != nil {
		return err
	}
	s, err := auth.NewSigner(*issuer, key)
	if err != nil {
		return err
	}
	if *jwks {
		b, err := json.Marshal(s.JWKS())
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	tok, err := s.Mint(auth.Token{Subject: *sub, Audience: *audience, Roles: []string{*role}, TTL: *ttl})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
