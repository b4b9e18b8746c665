package management_test

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/platform/errs"
)

func FuzzDecodeRegister(f *testing.F) {
	f.Add([]byte(`{"carNo":"test", "rentalAmt":"10000", "procStatus":"WAITING", "carRegDt":"20200701"}`))
	f.Add([]byte(`{"carNo":"car02","rentalAmt":20000,"carRegDt":"20200702"}`))
	f.Add([]byte(`{"carNo":"x","rentalAmt":"1","procStatus":"RENTED","carRegDt":"20200231"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := management.DecodeRegister(httptest.NewRequest("POST", "/carManagements", bytes.NewReader(body)))
		if err == nil {
			if req.Validate() != nil {
				t.Fatalf("accepted %+v", req)
			}
			return
		}
		if c := errs.CodeOf(err); c != errs.Invalid && c != errs.TooLarge {
			t.Fatalf("code %s: %v", c, err)
		}
	})
}

func FuzzDecodeChangeAmount(f *testing.F) {
	f.Add([]byte(`{"rentalAmt":"15000"}`))
	f.Add([]byte(`{"procStatus":"RENTED"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := management.DecodeChangeAmount(httptest.NewRequest("PATCH", "/carManagements/car01", bytes.NewReader(body)))
		if err == nil {
			if req.RentalAmt.Validate() != nil {
				t.Fatalf("accepted %+v", req)
			}
			return
		}
		if c := errs.CodeOf(err); c != errs.Invalid && c != errs.TooLarge {
			t.Fatalf("code %s: %v", c, err)
		}
	})
}
