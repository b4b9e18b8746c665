package httpx

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Through a real server (Serve), as a client sends it: an X-Pad header
// brings the request to about size bytes.
func TestServeRefusesHeadersOverTheLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}), time.Second)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for _, c := range []struct {
		name     string
		size     int
		status   int
		wantJSON bool
	}{
		{"50 KiB", 50 << 10, http.StatusOK, true},
		{"at the limit", MaxHeaderBytes, http.StatusOK, true},
		{"one byte over", MaxHeaderBytes + 1, http.StatusRequestHeaderFieldsTooLarge, true},
		{"61 KiB", 61 << 10, http.StatusRequestHeaderFieldsTooLarge, true},
		// Past the server's own limit Go answers before any handler runs.
		{"200 KB", 200_000, http.StatusRequestHeaderFieldsTooLarge, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, ctype, body := rawRequest(t, ln.Addr().String(), c.size)
			if status != c.status {
				t.Fatalf("status %d, want %d (%s)", status, c.status, body)
			}
			if !c.wantJSON {
				return
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(body), &m); err != nil || !strings.HasPrefix(ctype, "application/json") {
				t.Fatalf("body %q (%s) is not JSON: %v", body, ctype, err)
			}
			if status != http.StatusOK && (m["code"] != "headers_too_large" || m["message"] == "") {
				t.Fatalf("error body %v", m)
			}
		})
	}
}

// rawRequest sends a GET of exactly size bytes of request line and
// headers, so the test measures what the limit measures.
func rawRequest(t *testing.T, addr string, size int) (status int, contentType, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
	const pad = "X-Pad: \r\n"
	n := size - len(head) - len(pad) - 2
	if n < 0 {
		t.Fatalf("size %d too small", size)
	}
	req := head + "X-Pad: " + strings.Repeat("a", n) + "\r\n\r\n"
	if len(req) != size {
		t.Fatalf("built %d bytes, want %d", len(req), size)
	}
	// The server may answer and close before it has read everything.
	go func() { _, _ = conn.Write([]byte(req)) }()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %d bytes of headers: %v", size, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestHeaderBytesCountsWhatTheWireCarries(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://h/x", nil)
	r.RequestURI, r.Proto = "/x", "HTTP/1.1"
	r.Header.Set("A", "bc")
	// "GET /x HTTP/1.1\r\n" + "Host: h\r\n" + "A: bc\r\n" + "\r\n"
	if got, want := HeaderBytes(r), 17+9+7+2; got != want {
		t.Fatalf("HeaderBytes = %d, want %d", got, want)
	}
}
