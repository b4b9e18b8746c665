package reservation_test

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/reservation"
)

const writeUp = `{"carNo":"car01", "custNo":"cus01", "paymtNo":"pay20200801Seq0001", "procStatus":"RESERVED", "rentalAmt":"10000", "resrvNo":"res20200801Seq0001", "resrvDt":"20200801", "rentalDt":"20200802", "returnDt":"20200805"}`

func TestDecodeReserveWriteUpPayload(t *testing.T) {
	r, err := reservation.DecodeReserve(httptest.NewRequest("POST", "/carReservations", bytes.NewBufferString(writeUp)))
	if err != nil || r.RentalAmt != 10000 || r.ReturnDt != "20200805" {
		t.Fatalf("%+v %v", r, err)
	}
}

func FuzzDecodeReserve(f *testing.F) {
	f.Add([]byte(writeUp))
	f.Add([]byte(`{"carNo":"car01","returnDt":"20200701","rentalDt":"20200802"}`))
	f.Add([]byte(`{"rentalAmt":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := reservation.DecodeReserve(httptest.NewRequest("POST", "/carReservations", bytes.NewReader(body)))
		if err == nil {
			if r.Validate() != nil || r.ReturnDt.Before(r.RentalDt) {
				t.Fatalf("accepted an invalid request %+v", r)
			}
			return
		}
		switch errs.CodeOf(err) {
		case errs.Invalid, errs.TooLarge:
		default:
			t.Fatalf("code %s for %q: %v", errs.CodeOf(err), body, err)
		}
	})
}
