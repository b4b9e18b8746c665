package host

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
)

func TestSubcommands(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		w.Write([]byte(r.Method + " " + r.Header.Get("Content-Type") + " " + string(b)))
	}))
	defer srv.Close()
	healthy := filepath.Join(t.TempDir(), "healthy")
	env := func(k string) string {
		if k == contract.EnvHealthyFile {
			return healthy
		}
		return ""
	}
	cases := []struct {
		args    []string
		handled bool
		code    int
		out     string
	}{
		{[]string{"http", "PUT", srv.URL + "/fault", `{"errorRate":0.3}`}, true, 0, `PUT application/json {"errorRate":0.3}`},
		{[]string{"http", "get", srv.URL + "/missing"}, true, 1, "404 Not Found"},
		{[]string{"http", "GET"}, true, 2, ""},
		{[]string{"http", "-timeout", "5s", "GET", srv.URL + "/ok"}, true, 0, "GET"},
		{[]string{"http", "-timeout", "soon", "GET", srv.URL}, true, 2, ""},
		{[]string{"http", "GET", "http://127.0.0.1:1/closed"}, true, 1, ""},
		{[]string{"probe"}, true, 1, ""}, // no liveness file yet
		{[]string{"serve"}, false, 0, ""},
		{nil, false, 0, ""},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code, handled := runSubcommand(c.args, env, &out, &errOut)
		if handled != c.handled || code != c.code || !strings.Contains(out.String(), c.out) {
			t.Errorf("%q: handled %v code %d out %q (stderr %q); want %v %d containing %q", c.args, handled, code, out.String(), errOut.String(), c.handled, c.code, c.out)
		}
	}
}
