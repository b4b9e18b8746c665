package main

import (
	"maps"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := []byte("Running 5s test @ http://127.0.0.1:1\n  1 threads and 20 connections\nBENCH p50=10480 p99=24400 requests=8000 duration=4000000 201=7990 409=10\n")
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.P50 != 10480*time.Microsecond || r.P99 != 24400*time.Microsecond || r.Rate != 2000 {
		t.Errorf("p50 %v p99 %v rate %v, want 10.48ms 24.4ms 2000", r.P50, r.P99, r.Rate)
	}
	if want := map[string]int{"201": 7990, "409": 10}; !maps.Equal(r.Codes, want) {
		t.Errorf("codes %v, want %v", r.Codes, want)
	}
	for _, bad := range []string{"Running 5s test\n", "BENCH p50=x\n", "BENCH p50=1 p99=2 requests=3 duration=4 exhausted=1 201=3\n"} {
		if _, err := parseWrk([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
