package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseArgsSiegeStyle(t *testing.T) {
	o, err := ParseArgs([]string{"-c", "20", "-t", "30s", "-v", "POST", "http://gw:8080/carManagements", `{"carNo":"test"}`}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Concurrency != 20 || o.Duration.Seconds() != 30 || !o.Verbose || o.Method != "POST" || string(o.Body) != `{"carNo":"test"}` {
		t.Fatalf("%+v", o)
	}
	o, err = ParseArgs([]string{"-r", "2000", "-c", "200", "http://gw:8080/carManagements"}, io.Discard)
	if err != nil || o.Method != "GET" || o.Reps != 2000 || o.Concurrency != 200 {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"http://x"},                       // never ends
		{"-c", "0", "-r", "1", "http://x"}, // no users
		{"-r", "1", "ftp://x"},             // not http
		{"-r", "1"},                        // no URL
		{"-r", "1", "GET", "http://x", "body", "extra"},
	} {
		if _, err := ParseArgs(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRunSendsExactlyUsersTimesRepsAndCountsCodes(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if body, _ := io.ReadAll(r.Body); string(body) != `{"a":1}` || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n%4 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	var out bytes.Buffer
	o := Options{Concurrency: 5, Reps: 20, Timeout: 5e9, Method: "POST", URL: srv.URL, Body: []byte(`{"a":1}`), ContentType: "application/json", Verbose: true}
	s, err := Run(context.Background(), o, &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Transactions != 100 || hits.Load() != 100 {
		t.Fatalf("transactions %d, server saw %d, want 100", s.Transactions, hits.Load())
	}
	if s.StatusCodes["201"] != 75 || s.StatusCodes["503"] != 25 {
		t.Fatalf("codes %v", s.StatusCodes)
	}
	if s.Availability != 0.75 || s.Success != 0.75 {
		t.Fatalf("availability %v success %v", s.Availability, s.Success)
	}
	if got := strings.Count(out.String(), "==> POST"); got != 100 {
		t.Fatalf("%d verbose lines", got)
	}
	if !strings.Contains(out.String(), "Transactions:") || !strings.Contains(out.String(), "201=75 503=25") {
		t.Fatalf("summary:\n%s", out.String())
	}
}

func TestPlaceholderMakesEachRequestDistinct(t *testing.T) {
	seen := map[string]int{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.URL.Path+" "+string(b)]++
		mu.Unlock()
	}))
	defer srv.Close()
	o := Options{Concurrency: 3, Reps: 10, Timeout: 5e9, Method: "POST", URL: srv.URL + "/cars/{{n}}", Body: []byte(`{"carNo":"c{{n}}"}`)}
	if _, err := Run(context.Background(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 30 {
		t.Fatalf("%d distinct requests, want 30", len(seen))
	}
	if seen[`/cars/7 {"carNo":"c7"}`] != 1 {
		t.Fatalf("URL and body numbered apart: %v", seen)
	}
}

// A paced run spreads its requests over time instead of firing them as
// fast as the server answers: 40 requests at 100/s take about 0.4s, where
// the closed loop sends them in a few milliseconds.
func TestRatePacesTheRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	o := Options{Concurrency: 4, Reps: 10, Rate: 100, Timeout: 5e9, Method: "GET", URL: srv.URL}
	s, err := Run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Transactions != 40 {
		t.Fatalf("transactions %d, want 40", s.Transactions)
	}
	// The 40th request leaves 390ms after the first at 100/s.
	if s.Elapsed < 300*time.Millisecond {
		t.Fatalf("40 requests at 100/s took %s: not paced", s.Elapsed)
	}
	if _, err := ParseArgs([]string{"-rate", "-5", "-t", "1s", "http://x"}, io.Discard); err == nil {
		t.Error("-rate -5 accepted")
	}
}

func TestLocalIPIsTheSourceAddress(t *testing.T) {
	var mu sync.Mutex
	from := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from[host]++
		mu.Unlock()
	}))
	defer srv.Close()
	o := Options{Concurrency: 2, Reps: 3, Timeout: 5e9, Method: "GET", URL: srv.URL, LocalIP: net.IPv4(127, 0, 0, 7)}
	if _, err := Run(context.Background(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	if from["127.0.0.7"] != 6 || len(from) != 1 {
		t.Fatalf("requests came from %v, want all 6 from 127.0.0.7", from)
	}
}

// -H carries a bearer token like curl's, and a header without a colon is
// refused rather than sent mangled.
func TestParseArgsHeaders(t *testing.T) {
	o, err := ParseArgs([]string{"-r", "1", "-H", "Authorization: Bearer abc.def.ghi", "-H", "X-A: 1", "http://127.0.0.1:8080/carReservations"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Header.Get("Authorization"); got != "Bearer abc.def.ghi" {
		t.Fatalf("Authorization = %q", got)
	}
	if got := o.Header.Get("X-A"); got != "1" {
		t.Fatalf("X-A = %q", got)
	}
	if _, err := ParseArgs([]string{"-r", "1", "-H", "Authorization Bearer x", "http://127.0.0.1:8080/"}, io.Discard); err == nil {
		t.Fatal("a header without a colon was accepted")
	}
}
