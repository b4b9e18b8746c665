package rental_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/rental"
)

func TestRegionPrecedenceAndReload(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	c := rental.NewRegionConfig(dir, getenv)
	if a := c.Active(); a.Country.Value != "korea" || a.Region.Value != "seoul" || a.Country.Source != "default" {
		t.Fatalf("defaults: %+v", a)
	}
	env["COUNTRY"], env["REGION"] = "japan", "tokyo"
	c = rental.NewRegionConfig(dir, getenv)
	if a := c.Active(); a.Country.Value != "japan" || a.Region.Source != "env REGION" {
		t.Fatalf("env: %+v", a)
	}
	// The mounted ConfigMap wins and is re-read without a restart.
	if err := os.WriteFile(filepath.Join(dir, "region"), []byte("busan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !c.Reload() {
		t.Fatal("a changed file was not noticed")
	}
	if a := c.Active(); a.Region.Value != "busan" || a.Country.Value != "japan" {
		t.Fatalf("file over env: %+v", a)
	}
	if c.Reload() {
		t.Fatal("nothing changed but Reload says it did")
	}

	// Watch applies a change on its own.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan rental.Region, 1)
	go c.Watch(ctx, 10*time.Millisecond, func(r rental.Region) { changed <- r })
	if err := os.WriteFile(filepath.Join(dir, "country"), []byte("korea"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-changed:
		if r.Country.Value != "korea" || r.Country.Source != "file "+filepath.Join(dir, "country") {
			t.Fatalf("watched change: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher never saw the change")
	}
}

func FuzzDecodeRent(f *testing.F) {
	f.Add([]byte(`{"resrvNo":"res20200801Seq0001"}`))
	f.Add([]byte(`{"resrvNo":"r1","rentalNo":"../x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := rental.DecodeRent(httptest.NewRequest("POST", "/carRentals", bytes.NewReader(body)))
		if err == nil {
			if req.RentalNo == "" || req.Validate() != nil {
				t.Fatalf("accepted %+v", req)
			}
			return
		}
		if c := errs.CodeOf(err); c != errs.Invalid && c != errs.TooLarge {
			t.Fatalf("code %s: %v", c, err)
		}
	})
}
