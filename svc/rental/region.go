package rental

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// RegionSetting is one value of the rental-region ConfigMap and where it
// came from.
type RegionSetting struct {
	Value  string `json:"value"`
	Source string `json:"source"` // "file <path>", "env <KEY>" or "default"
}

// Region is the active country and region.
type Region struct {
	Country RegionSetting `json:"country"`
	Region  RegionSetting `json:"region"`
}

// RegionConfig reads the ConfigMap from files under dir (mounted volume)
// and from environment variables (configMapKeyRef). Files win: Kubernetes
// updates a mounted ConfigMap in place, while env keeps the value the pod
// started with. Reload picks up file changes without a restart.
type RegionConfig struct {
	dir    string
	getenv func(string) string
	mu     sync.RWMutex
	active Region
}

// NewRegionConfig loads the configuration once.
func NewRegionConfig(dir string, getenv func(string) string) *RegionConfig {
	c := &RegionConfig{dir: dir, getenv: getenv}
	c.Reload()
	return c
}

// Active returns the values in force.
func (c *RegionConfig) Active() Region {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.active
}

// Reload re-reads the files and reports whether anything changed.
func (c *RegionConfig) Reload() bool {
	next := Region{
		Country: c.read(contract.ConfigKeyCountry, contract.EnvCountry, contract.DefaultCountry),
		Region:  c.read(contract.ConfigKeyRegion, contract.EnvRegion, contract.DefaultRegion),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := next != c.active
	c.active = next
	return changed
}

func (c *RegionConfig) read(key, env, def string) RegionSetting {
	path := filepath.Join(c.dir, key)
	if b, err := os.ReadFile(path); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return RegionSetting{Value: v, Source: "file " + path}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		// An unreadable file must not silently fall back: keep what we had.
		c.mu.RLock()
		defer c.mu.RUnlock()
		if key == contract.ConfigKeyCountry && c.active.Country.Value != "" {
			return c.active.Country
		}
		if key == contract.ConfigKeyRegion && c.active.Region.Value != "" {
			return c.active.Region
		}
	}
	if v := strings.TrimSpace(c.getenv(env)); v != "" {
		return RegionSetting{Value: v, Source: "env " + env}
	}
	return RegionSetting{Value: def, Source: "default"}
}

// Watch reloads every interval until ctx is done. Polling is deliberate:
// Kubernetes swaps the mounted ConfigMap through a "..data" symlink, which
// file-change notifications on the files themselves miss.
func (c *RegionConfig) Watch(ctx context.Context, interval time.Duration, changed func(Region)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.Reload() && changed != nil {
				changed(c.Active())
			}
		}
	}
}
