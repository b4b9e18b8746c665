package host

import (
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
)

func TestLoadConfigDefaultsRunLocally(t *testing.T) {
	cfg, err := LoadConfig(contract.Reservation, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StreamReplicas != 1 || cfg.NATSURL != "" || cfg.DatabaseURL != "" || cfg.MaxInFlight < 1 {
		t.Fatalf("defaults %+v", cfg)
	}
}

func TestLoadConfigReadsTheClientLimits(t *testing.T) {
	cfg, err := LoadConfig(contract.Gateway, func(string) string { return "" })
	if err != nil || cfg.RateLimitRPS != 50 || cfg.RateLimitBurst != 100 || cfg.TrustedProxyHops != 0 {
		t.Fatalf("defaults: %v/s burst %d hops %d, %v", cfg.RateLimitRPS, cfg.RateLimitBurst, cfg.TrustedProxyHops, err)
	}
	cfg, err = LoadConfig(contract.Gateway, env(map[string]string{contract.EnvRateLimitRPS: "2.5", contract.EnvRateLimitBurst: "7", contract.EnvTrustedProxyHops: "2"}))
	if err != nil || cfg.RateLimitRPS != 2.5 || cfg.RateLimitBurst != 7 || cfg.TrustedProxyHops != 2 {
		t.Fatalf("set: %v/s burst %d hops %d, %v", cfg.RateLimitRPS, cfg.RateLimitBurst, cfg.TrustedProxyHops, err)
	}
	if cfg, err = LoadConfig(contract.Gateway, env(map[string]string{contract.EnvRateLimitRPS: "0"})); err != nil || cfg.RateLimitRPS != 0 {
		t.Fatalf("0 (off): %v, %v", cfg.RateLimitRPS, err)
	}
}

func TestLoadConfigReadsTheStreamReplicas(t *testing.T) {
	cfg, err := LoadConfig(contract.Reservation, env(map[string]string{contract.EnvStreamReplicas: "3"}))
	if err != nil || cfg.StreamReplicas != 3 {
		t.Fatalf("replicas %d, %v", cfg.StreamReplicas, err)
	}
}

// A bad value stops the service at start with the key's name, never a
// silent default.
func TestLoadConfigRefusesBadValuesNamingTheKey(t *testing.T) {
	for _, c := range []struct{ key, value string }{
		{contract.EnvStreamReplicas, "0"},
		{contract.EnvStreamReplicas, "6"},
		{contract.EnvStreamReplicas, "three"},
		{contract.EnvMaxInFlight, "0"},
		{contract.EnvSQLiteSync, "off"},
		{contract.EnvDatabaseMaxConns, "1"},
		{contract.EnvGatewayCacheTTL, "-1s"},
		{contract.EnvGatewayCacheTTL, "soon"},
		{contract.EnvDatabaseMaxConns, "many"},
		{contract.EnvLogLevel, "loud"},
		{contract.EnvShutdownDrain, "-1s"},
		{contract.EnvURL(contract.Payment), "ftp://payment"},
		{contract.EnvRateLimitRPS, "fast"},
		{contract.EnvRateLimitRPS, "-1"},
		{contract.EnvRateLimitRPS, "+Inf"},
		{contract.EnvRateLimitRPS, "NaN"},
		{contract.EnvRateLimitBurst, "0"},
		{contract.EnvRateLimitBurst, "1.5"},
		{contract.EnvTrustedProxyHops, "-1"},
		{contract.EnvTrustedProxyHops, "one"},
	} {
		_, err := LoadConfig(contract.Reservation, env(map[string]string{c.key: c.value}))
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%q: error %v, want one naming %s", c.key, c.value, err, c.key)
		}
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
