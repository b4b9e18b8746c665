package config

import (
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
)

func TestRDSMaxConnections(t *testing.T) {
	for class, want := range map[string]int{
		"db.t4g.micro":    84,
		"db.t4g.small":    168,
		"db.m6g.large":    675,
		"db.r6g.large":    1351,
		"db.r6g.16xlarge": 5000,
	} {
		if got, ok := rdsMaxConnections(class); !ok || got != want {
			t.Errorf("%s: %d (%v), want %d", class, got, ok, want)
		}
	}
	for _, class := range []string{"db.x2g.large", "t4g.micro", "db.m6g.micro", "db.t4g.huge", ""} {
		if n, ok := rdsMaxConnections(class); ok {
			t.Errorf("%s: %d, want unknown", class, n)
		}
	}
}

func TestDatabasePool(t *testing.T) {
	defaults := func(mut func(*Config)) Config {
		c := Config{Target: AWS, DBInstanceClass: DefaultDBInstanceClass, Autoscaling: defaultAutoscaling()}
		if mut != nil {
			mut(&c)
		}
		return c
	}
	cases := []struct {
		name    string
		cfg     Config
		want    int
		wantErr string
	}{
		// 5 services with a database: management 10+1, four others 6+1.
		{"the default stack at its maxima", defaults(nil), (168 - 10) / 39, ""},
		{"the write-up's db.t4g.micro is too small", defaults(func(c *Config) { c.DBInstanceClass = "db.t4g.micro" }), 0, "larger carrental:dbInstanceClass"},
		{"a large class is capped at the default pool", defaults(func(c *Config) { c.DBInstanceClass = "db.r6g.xlarge" }), contract.DefaultDatabaseMaxConns, ""},
		{"an unknown class needs its figure", defaults(func(c *Config) { c.DBInstanceClass = "db.x2g.large" }), 0, "carrental:dbMaxConnections"},
		{"the figure given wins", defaults(func(c *Config) { c.DBInstanceClass = "db.x2g.large"; c.DBMaxConnections = 400 }), (400 - 10) / 39, ""},
		{"a local PostgreSQL counts 100", defaults(func(c *Config) { c.Target = Local }), (100 - 10) / 39, ""},
		{"a local PostgreSQL of 50", defaults(func(c *Config) { c.Target = Local; c.DBMaxConnections = 50 }), 0, "lower maxReplicas"},
		{"a local PostgreSQL with fewer replicas", defaults(func(c *Config) {
			c.Target = Local
			for s, a := range c.Autoscaling {
				a.MaxReplicas = 3
				c.Autoscaling[s] = a
			}
		}), (100 - 10) / 20, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.DatabasePool(1)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("share %d, error %v: want an error saying %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("share %d, error %v: want %d", got, err, tc.want)
			}
			if got < contract.MinDatabaseMaxConns {
				t.Fatalf("share %d below the minimum", got)
			}
		})
	}
}
