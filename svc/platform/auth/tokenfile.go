package auth

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// FileTokens reads this service's token from path (a Kubernetes
// projected ServiceAccount token, contract.ServiceTokenFile), read again
// whenever the file changes: kubelet rotates it well before it expires.
func FileTokens(path string) func(context.Context) (string, error) {
	var (
		mu      sync.Mutex
		tok     string
		modTime time.Time
		size    int64
	)
	return func(context.Context) (string, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("service token: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if tok != "" && fi.ModTime().Equal(modTime) && fi.Size() == size {
			return tok, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("service token: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("service token: %s is empty", path)
		}
		tok, modTime, size = t, fi.ModTime(), fi.Size()
		return tok, nil
	}
}
