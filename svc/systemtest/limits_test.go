package systemtest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// One client bursting past its bucket is refused with 429 and a
// Retry-After, and another client is still served: keyed by the
// connection's address (two loopback addresses), and by X-Forwarded-For
// behind one trusted proxy (which a client cannot forge its way around).
func TestClientOverItsBurstIsRefusedOthersServed(t *testing.T) {
	const burst = 5
	for _, c := range []struct {
		name string
		env  map[string]string
		// client makes the API of one client; i tells them apart.
		client func(t *testing.T, base string, i int) *api
	}{
		{"by address", nil, func(t *testing.T, base string, i int) *api { return fromLoopback(t, base, byte(10+i)) }},
		{"behind one proxy", map[string]string{contract.EnvTrustedProxyHops: "1"}, func(t *testing.T, base string, i int) *api {
			a := newAPI(t, base)
			// What the proxy appends is the last entry; the client's own
			// entries before it, the same for both, do not decide.
			a.http.Transport = headerSetter{next: a.http.Transport, key: "X-Forwarded-For", value: fmt.Sprintf("203.0.113.1, 198.51.100.%d", i)}
			return a
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{contract.EnvRateLimitRPS: "0.2", contract.EnvRateLimitBurst: strconv.Itoa(burst)}
			for k, v := range c.env {
				env[k] = v
			}
			sys := startLocal(t, env)
			flooder, other := c.client(t, sys.Gateway(), 1), c.client(t, sys.Gateway(), 2)
			for range burst {
				flooder.expect(200, "GET", "/carInformations", "")
			}
			for range 3 {
				r, retryAfter := callWithHeader(t, flooder, "GET", "/carInformations", "Retry-After")
				if r.Status != http.StatusTooManyRequests {
					t.Fatalf("past the burst: %d %s, want 429", r.Status, r.Body)
				}
				if field(r.Map(t), "code") != "rate_limited" {
					t.Fatalf("429 body %s", r.Body)
				}
				// One token every 5 s: the bucket says when.
				if secs, err := strconv.Atoi(retryAfter); err != nil || secs < 1 || secs > 5 {
					t.Fatalf("Retry-After %q, want 1 to 5 seconds", retryAfter)
				}
			}
			other.expect(200, "GET", "/carInformations", "")
			metrics := string(newAPI(t, sys.Gateway()).expect(200, "GET", contract.PathMetrics, "").Body)
			if want := `carrental_gateway_client_rejected_total{reason="rate"} 3`; !strings.Contains(metrics, want) {
				t.Fatalf("/metrics lacks %s", want)
			}
		})
	}
}

// fromLoopback is a client of base whose connections come from
// 127.0.0.<host>: another address to the gateway's per-client limits.
func fromLoopback(t *testing.T, base string, host byte) *api {
	a := newAPI(t, base)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, host)}}
	tr.DialContext = d.DialContext
	a.http.Transport = newContractChecker(t, tr)
	return a
}

// Request headers over 60 KiB answer 431 in JSON through the gateway; a
// large but allowed header is served.
func TestHeadersOverTheLimitThroughTheGateway(t *testing.T) {
	sys := startLocal(t, nil)
	for _, c := range []struct {
		size   int
		status int
	}{{50 << 10, 200}, {61 << 10, 431}, {200_000, 431}} {
		req, _ := http.NewRequest("GET", sys.Gateway()+"/carInformations", nil)
		req.Header.Set("X-Pad", strings.Repeat("a", c.size))
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%d bytes: %v", c.size, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%d bytes of header: %d, want %d", c.size, resp.StatusCode, c.status)
		}
		if c.status == 431 && c.size < 100_000 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("431 as %q, want JSON", resp.Header.Get("Content-Type"))
		}
	}
}

type headerSetter struct {
	next       http.RoundTripper
	key, value string
}

func (h headerSetter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.key, h.value)
	return h.next.RoundTrip(r)
}

// callWithHeader is call, also returning one response header.
func callWithHeader(t *testing.T, a *api, method, path, header string) (reply, string) {
	t.Helper()
	var got string
	tr := a.http.Transport
	a.http.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(r)
		if resp != nil {
			got = resp.Header.Get(header)
		}
		return resp, err
	})
	defer func() { a.http.Transport = tr }()
	return a.call(method, path, ""), got
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Forged tokens are charged to their address: past its burst of
// refusals the gateway answers 429 with Retry-After without checking the
// next one, while a token verified before from that same address is
// still served, and so is a client from another address.
func TestForgedTokensAreChargedToTheirAddress(t *testing.T) {
	const burst = 5
	sys := startLocal(t, map[string]string{contract.EnvRateLimitRPS: "0.2", contract.EnvRateLimitBurst: strconv.Itoa(burst)})
	from := func(i int) *api { return fromLoopback(t, sys.Gateway(), byte(20+i)) }
	forger := from(1).as("eyJhbGciOiJSUzI1NiIsImtpZCI6ImZvcmdlZCJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl")
	neighbour := from(1).as(mint(t, sys, contract.RoleCustomer, "cust-neighbour"))
	neighbour.expect(200, "GET", "/carInformations", "")
	for range burst {
		forger.expect(401, "GET", "/carInformations", "")
	}
	r, retryAfter := callWithHeader(t, forger, "GET", "/carInformations", "Retry-After")
	if r.Status != http.StatusTooManyRequests || field(r.Map(t), "code") != "rate_limited" {
		t.Fatalf("forged token %d past the burst of refusals: %d %s, want 429 rate_limited", burst+1, r.Status, r.Body)
	}
	if secs, err := strconv.Atoi(retryAfter); err != nil || secs < 1 || secs > 5 {
		t.Fatalf("Retry-After %q, want 1 to 5 seconds", retryAfter)
	}
	neighbour.expect(200, "GET", "/carInformations", "")
	from(2).as(mint(t, sys, contract.RoleCustomer, "cust-elsewhere")).expect(200, "GET", "/carInformations", "")
	metrics := string(newAPI(t, sys.Gateway()).expect(200, "GET", contract.PathMetrics, "").Body)
	if want := `carrental_gateway_client_rejected_total{reason="refused"} 1`; !strings.Contains(metrics, want) {
		t.Fatalf("/metrics lacks %s", want)
	}
}
