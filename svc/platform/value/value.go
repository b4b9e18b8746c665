// Package value holds the small value types the write-up's payloads carry in
// every bounded context: amounts of money, calendar dates, identifiers and
// the status words one service publishes and others read.
package value

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
)

// MaxAmount bounds an amount so sums over a rental never overflow.
const MaxAmount = 1_000_000_000_000

// Amount is a whole amount of money in the smallest currency unit (won).
// The write-up sends amounts as strings ("10000"); numbers are accepted too.
type Amount int64

// ParseAmount parses a decimal whole amount.
func ParseAmount(s string) (Amount, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errs.E(errs.Invalid, "amount %q is not a whole number", s)
	}
	a := Amount(n)
	return a, a.Validate()
}

// Validate checks the amount is positive and within MaxAmount.
func (a Amount) Validate() error {
	if a <= 0 {
		return errs.E(errs.Invalid, "amount %d must be greater than zero", int64(a))
	}
	if a > MaxAmount {
		return errs.E(errs.Invalid, "amount %d is larger than %d", int64(a), int64(MaxAmount))
	}
	return nil
}

// UnmarshalJSON accepts "10000" and 10000.
func (a *Amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return errs.E(errs.Invalid, "amount %s is not a string or a number", b)
		}
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// DateLayout is the write-up's date format, yyyyMMdd.
const DateLayout = "20060102"

// Date is a calendar day written yyyyMMdd, e.g. "20200801".
type Date string

// ParseDate validates s as a real calendar day in yyyyMMdd form.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Format(DateLayout) != s {
		return "", errs.E(errs.Invalid, "date %q is not a valid yyyyMMdd day", s)
	}
	return Date(s), nil
}

// Time returns the day at midnight UTC; the zero time for an empty Date.
func (d Date) Time() time.Time {
	t, _ := time.Parse(DateLayout, string(d))
	return t
}

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return d.Time().Before(e.Time()) }

// DaysUntil is the number of days from d to e (0 when e is the same day).
func (d Date) DaysUntil(e Date) int { return int(e.Time().Sub(d.Time()).Hours() / 24) }

// UnmarshalJSON validates the day while decoding.
func (d *Date) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errs.E(errs.Invalid, "date %s must be a yyyyMMdd string", b)
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Today is the current day in UTC as a Date.
func Today(now time.Time) Date { return Date(now.UTC().Format(DateLayout)) }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateID checks an identifier field of the write-up's payloads (carNo,
// custNo, resrvNo, paymtNo, rentalNo): 1 to 64 letters, digits, - or _.
func ValidateID(field, v string) error {
	if v == "" {
		return errs.E(errs.Invalid, "%s is required", field)
	}
	if !idPattern.MatchString(v) {
		return errs.E(errs.Invalid, "%s %q must be 1 to 64 letters, digits, - or _", field, v)
	}
	return nil
}
