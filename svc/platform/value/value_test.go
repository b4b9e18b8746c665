package value

import (
	"encoding/json"
	"testing"

	"github.com/carrental/carrental/svc/platform/errs"
)

func TestAmountJSON(t *testing.T) {
	cases := []struct {
		in   string
		want Amount
		ok   bool
	}{
		{`"10000"`, 10000, true},
		{`10000`, 10000, true},
		{`" 10000"`, 0, false},
		{`"0"`, 0, false},
		{`-1`, 0, false},
		{`1.5`, 0, false},
		{`"1e3"`, 0, false},
		{`1000000000001`, 0, false},
		{`true`, 0, false},
		{`"99999999999999999999"`, 0, false},
	}
	for _, tc := range cases {
		var a Amount
		err := json.Unmarshal([]byte(tc.in), &a)
		if (err == nil) != tc.ok || a != tc.want {
			t.Errorf("%s: got %d, %v", tc.in, a, err)
		}
		if err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: code %s", tc.in, errs.CodeOf(err))
		}
	}
}

func TestDate(t *testing.T) {
	for in, ok := range map[string]bool{
		"20200801": true, "20200229": true, "20210229": false, "20201301": false,
		"2020081": false, "2020-08-01": false, "": false, "202008011": false,
	} {
		if _, err := ParseDate(in); (err == nil) != ok {
			t.Errorf("ParseDate(%q) err=%v, want ok=%v", in, err, ok)
		}
	}
	if !Date("20200802").Before("20200805") || Date("20200805").Before("20200802") {
		t.Fatal("Before is wrong")
	}
	if got := Date("20200802").DaysUntil("20200805"); got != 3 {
		t.Fatalf("DaysUntil = %d", got)
	}
}

func FuzzAmount(f *testing.F) {
	for _, s := range []string{`"10000"`, `10000`, `"-0"`, `1e400`, `"+5"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Amount
		if err := a.UnmarshalJSON(b); err == nil && a != 0 {
			if a.Validate() != nil {
				t.Fatalf("accepted invalid amount %d from %q", a, b)
			}
		} else if err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("code %s", errs.CodeOf(err))
		}
	})
}
