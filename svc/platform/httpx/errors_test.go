package httpx

import (
	"slices"
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/errs"
)

// The availability alerts count contract.ServerErrorOutcomes as failures:
// exactly the codes answered with a 5xx.
func TestServerErrorOutcomesAreTheCodesAnswered5xx(t *testing.T) {
	all := []errs.Code{errs.Invalid, errs.NotFound, errs.Conflict, errs.TooLarge, errs.Unavailable, errs.Timeout,
		errs.Internal, errs.Unsupported, errs.NotAllowed, errs.Canceled, errs.Overloaded, errs.RateLimited, errs.HeadersTooLarge,
		errs.Unauthenticated, errs.Forbidden}
	var want []string
	for _, c := range all {
		if StatusOf(c) >= 500 {
			want = append(want, string(c))
		}
	}
	got := contract.ServerErrorOutcomes()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("contract.ServerErrorOutcomes() = %v; the codes answered 5xx are %v", got, want)
	}
	if StatusOf(errs.Canceled) >= 500 || string(errs.Canceled) != contract.OutcomeCanceled {
		t.Fatalf("canceled: %q answered %d", contract.OutcomeCanceled, StatusOf(errs.Canceled))
	}
}

// A refused identity is the caller's problem: 401 and 403, never counted
// against the service's availability.
func TestAuthCodesAreClientErrors(t *testing.T) {
	for code, want := range map[errs.Code]int{errs.Unauthenticated: 401, errs.Forbidden: 403} {
		if got := StatusOf(code); got != want {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, want)
		}
		if CodeOfStatus(want) != code {
			t.Errorf("CodeOfStatus(%d) = %s, want %s", want, CodeOfStatus(want), code)
		}
		if slices.Contains(contract.ServerErrorOutcomes(), string(code)) {
			t.Errorf("%s counts as a server error", code)
		}
	}
}
