package httpx

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/value"
)

type carRequest struct {
	CarNo     string       `json:"carNo"`
	RentalAmt value.Amount `json:"rentalAmt"`
	CarRegDt  value.Date   `json:"carRegDt"`
	Count     int          `json:"count"`
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name        string
		contentType string
		body        string
		code        errs.Code
		wantMessage string
	}{
		{"write-up payload", "application/json", `{"carNo":"test","rentalAmt":"10000","carRegDt":"20200701"}`, "", ""},
		{"amount as number", "", `{"carNo":"test","rentalAmt":10000}`, "", ""},
		{"charset parameter", "application/json; charset=utf-8", `{"carNo":"x"}`, "", ""},
		{"empty body", "application/json", ``, errs.Invalid, "empty"},
		{"whitespace body", "application/json", "  \n", errs.Invalid, "empty"},
		{"malformed", "application/json", `{"carNo":`, errs.Invalid, "malformed"},
		{"syntax error", "application/json", `{"carNo" "x"}`, errs.Invalid, "malformed JSON at byte"},
		{"wrong type", "application/json", `{"carNo":5}`, errs.Invalid, `field "carNo" must be a string`},
		{"wrong type number", "application/json", `{"count":"many"}`, errs.Invalid, `field "count" must be a number`},
		{"array not object", "application/json", `[1,2]`, errs.Invalid, "must be a JSON object"},
		{"unknown field", "application/json", `{"carNo":"x","colour":"red"}`, errs.Invalid, `unknown field "colour"`},
		{"trailing data", "application/json", `{"carNo":"x"} {"carNo":"y"}`, errs.Invalid, "after the JSON object"},
		{"trailing garbage", "application/json", `{"carNo":"x"}]`, errs.Invalid, "after the JSON object"},
		{"bad amount", "application/json", `{"rentalAmt":"ten"}`, errs.Invalid, "not a whole number"},
		{"negative amount", "application/json", `{"rentalAmt":-5}`, errs.Invalid, "greater than zero"},
		{"impossible date", "application/json", `{"carRegDt":"20200230"}`, errs.Invalid, "not a valid yyyyMMdd"},
		{"wrong media type", "text/plain", `{"carNo":"x"}`, errs.Unsupported, "not application/json"},
		{"oversized", "application/json", `{"carNo":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, errs.TooLarge, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var got carRequest
			err := DecodeJSON(r, &got)
			if errs.CodeOf(err) != tc.code {
				t.Fatalf("code = %q (%v), want %q", errs.CodeOf(err), err, tc.code)
			}
			if tc.wantMessage != "" && !strings.Contains(errs.MessageOf(err), tc.wantMessage) {
				t.Fatalf("message %q does not contain %q", errs.MessageOf(err), tc.wantMessage)
			}
		})
	}
}

func TestDecodeJSONValues(t *testing.T) {
	var got carRequest
	if err := DecodeJSONBytes([]byte(`{"carNo":"car01","rentalAmt":"20000","carRegDt":"20200702"}`), &got); err != nil {
		t.Fatal(err)
	}
	if got.CarNo != "car01" || got.RentalAmt != 20000 || got.CarRegDt != "20200702" {
		t.Fatalf("decoded %+v", got)
	}
}

func FuzzDecodeJSONBytes(f *testing.F) {
	f.Add([]byte(`{"carNo":"test","rentalAmt":"10000","carRegDt":"20200701"}`))
	f.Add([]byte(`{"rentalAmt":1e99}`))
	f.Add([]byte(`{"carRegDt":"99999999"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got carRequest
		err := DecodeJSONBytes(body, &got)
		if err == nil {
			return
		}
		if code := errs.CodeOf(err); code != errs.Invalid {
			t.Fatalf("code %q for %q: %v", code, body, err)
		}
	})
}

// A caller that hung up maps to 499, out of the 5xx counts, both ways.
func TestCanceledIsNotAServerError(t *testing.T) {
	if got := errs.CodeOf(fmt.Errorf("read: %w", context.Canceled)); got != errs.Canceled {
		t.Fatalf("CodeOf(context.Canceled) = %s", got)
	}
	if StatusOf(errs.Canceled) != 499 || CodeOfStatus(499) != errs.Canceled {
		t.Fatalf("canceled maps to %d and back to %s", StatusOf(errs.Canceled), CodeOfStatus(499))
	}
}

func TestDecodePage(t *testing.T) {
	cases := []struct {
		query string
		limit int
		after string
		ok    bool
	}{
		{"", 20, "", true},
		{"limit=5&after=Y2FyMDk", 5, "car09", true},
		{"limit=500", 500, "", true},
		{"limit=0", 0, "", false},
		{"limit=501", 0, "", false},
		{"limit=x", 0, "", false},
		{"after=***", 0, "", false},
		{"after=%%%", 0, "", false}, // malformed: refused, not ignored
	}
	for _, c := range cases {
		p, err := DecodePage(httptest.NewRequest("GET", "/carManagements?"+c.query, nil))
		if (err == nil) != c.ok || (c.ok && (p.Limit != c.limit || p.After != c.after)) {
			t.Errorf("%q: %+v %v", c.query, p.Page, err)
		}
		if err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%q: code %s", c.query, errs.CodeOf(err))
		}
	}
}
