package clientlimit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Address is the address of the client that sent r, as the gateway keys
// it. With hops == 0 it is the connection's peer (RemoteAddr). With hops
// == N, N trusted proxies stand in front and each appended the address it
// was connected from to X-Forwarded-For, so the N-th entry from the right
// is the one the outermost proxy wrote: the client as it reached us.
// Entries further left came from the client and may be forged, so they
// are never read. A header with fewer than N entries, or an entry that is
// not an IP address, did not come through the proxies as configured: the
// connection's peer is used then, which nobody can forge.
func Address(r *http.Request, hops int) string {
	peer := remoteIP(r.RemoteAddr)
	if hops <= 0 {
		return peer
	}
	var entries []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		entries = append(entries, strings.Split(h, ",")...)
	}
	if len(entries) < hops {
		return peer
	}
	if ip, ok := parseIP(strings.TrimSpace(entries[len(entries)-hops])); ok {
		return ip
	}
	return peer
}

func remoteIP(remoteAddr string) string {
	if ip, ok := parseIP(remoteAddr); ok {
		return ip
	}
	return remoteAddr
}

// parseIP reads an address with or without a port ("10.0.0.1",
// "10.0.0.1:5000", "[::1]:80") in one canonical spelling, so one client
// is one key however a proxy wrote it.
func parseIP(s string) (string, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	ip, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return "", false
	}
	return ip.Unmap().WithZone("").String(), true
}
