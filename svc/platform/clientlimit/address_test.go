package clientlimit

import (
	"net/http/httptest"
	"testing"
)

func TestAddress(t *testing.T) {
	for _, c := range []struct {
		name   string
		remote string
		xff    []string
		hops   int
		want   string
	}{
		{"no proxy: the peer", "192.0.2.7:4242", nil, 0, "192.0.2.7"},
		{"no proxy trusted: a forged header is ignored", "192.0.2.7:4242", []string{"203.0.113.9"}, 0, "192.0.2.7"},
		{"one proxy: the rightmost entry", "10.0.0.2:80", []string{"198.51.100.1"}, 1, "198.51.100.1"},
		{"one proxy: forged entries left of it are ignored", "10.0.0.2:80", []string{"203.0.113.9, 6.6.6.6, 198.51.100.1"}, 1, "198.51.100.1"},
		{"one proxy: forged entries in an earlier header", "10.0.0.2:80", []string{"203.0.113.9", "198.51.100.1"}, 1, "198.51.100.1"},
		{"two proxies: the second from the right", "10.0.0.2:80", []string{"6.6.6.6,198.51.100.1, 10.0.0.9"}, 2, "198.51.100.1"},
		{"fewer entries than proxies: the peer", "10.0.0.2:80", []string{"198.51.100.1"}, 2, "10.0.0.2"},
		{"no header behind a proxy: the peer", "10.0.0.2:80", nil, 1, "10.0.0.2"},
		{"garbage where the proxy writes: the peer", "10.0.0.2:80", []string{"198.51.100.1, not-an-ip"}, 1, "10.0.0.2"},
		{"empty entry: the peer", "10.0.0.2:80", []string{"198.51.100.1,"}, 1, "10.0.0.2"},
		{"an entry with a port", "10.0.0.2:80", []string{"198.51.100.1:5555"}, 1, "198.51.100.1"},
		{"IPv6 with brackets and port", "10.0.0.2:80", []string{"[2001:db8::1]:443"}, 1, "2001:db8::1"},
		{"IPv4-mapped IPv6 is the IPv4 client", "[::ffff:192.0.2.7]:1", nil, 0, "192.0.2.7"},
		{"IPv6 peer", "[2001:db8::2]:9", nil, 0, "2001:db8::2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := Address(r, c.hops); got != c.want {
				t.Fatalf("Address(hops=%d) = %q, want %q", c.hops, got, c.want)
			}
		})
	}
}
