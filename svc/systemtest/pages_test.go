package systemtest

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/value"
)

var nextLink = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// Every list is paginated: the write-up's unpaginated call gets the first
// page and a Link to the next, and following the links reaches every item
// once. Bad page parameters are a 400 with a JSON message.
func TestListsArePaginatedThroughTheGateway(t *testing.T) {
	// 130 cars registered as fast as they are answered: past one client's
	// rate, which is not what this test is about.
	sys := startLocal(t, map[string]string{"RESILIENCE_MANAGEMENT_MAX_CONCURRENT": "0", contract.EnvRateLimitRPS: "0"})
	gw := staffAPI(t, sys)
	const cars = 130
	for i := range cars {
		gw.expect(201, "POST", "/carManagements", fmt.Sprintf(`{"carNo":"page%03d","rentalAmt":"10000","carRegDt":"20200701"}`, i))
	}

	get := func(path string) (items []map[string]any, next string) {
		t.Helper()
		req, _ := http.NewRequest("GET", sys.Gateway()+path, nil)
		req.Header.Set("Authorization", "Bearer "+gw.token)
		resp, err := gw.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r := reply{Status: resp.StatusCode, Body: body}
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		r.JSON(t, &items)
		if l := resp.Header.Get("Link"); l != "" {
			m := nextLink.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("Link %q", l)
			}
			next = m[1]
		}
		return items, next
	}

	first, next := get("/carManagements")
	if len(first) != value.DefaultPageLimit || next == "" {
		t.Fatalf("unpaginated call: %d items, next %q; want the first %d and a link", len(first), next, value.DefaultPageLimit)
	}
	seen := map[string]int{}
	for path := "/carManagements?limit=40"; path != ""; {
		var items []map[string]any
		items, path = get(path)
		for _, c := range items {
			seen[field(c, "carNo")]++
		}
		if path != "" && !strings.HasPrefix(path, "/carManagements?") {
			t.Fatalf("next link %q", path)
		}
	}
	if len(seen) != cars {
		t.Fatalf("walked %d cars, want %d", len(seen), cars)
	}
	for no, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", no, n)
		}
	}
	// The other lists page the same way; the view too.
	eventually(t, "the view has every car", func() error {
		items, next := get("/carInformations?limit=500")
		if len(items) != cars || next != "" {
			return fmt.Errorf("%d rows, next %q", len(items), next)
		}
		return nil
	})
	for _, bad := range []string{"/carManagements?limit=0", "/carManagements?limit=5000", "/carManagements?limit=ten",
		"/payments?after=not-a-cursor!", "/carRentals?limit=-1", "/carInformations?limit=501"} {
		r := gw.call("GET", bad, "")
		if r.Status != 400 || field(r.Map(t), "code") != "invalid" {
			t.Errorf("GET %s: %d %s, want 400 invalid", bad, r.Status, r.Body)
		}
	}
}
