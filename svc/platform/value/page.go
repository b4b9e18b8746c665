package value

import "github.com/carrental/carrental/svc/platform/errs"

// Page bounds a list: at most Limit items whose keys come after After, in
// key order. Keyset pages, not offsets: walking them sees every item that
// existed when the walk began exactly once, however many are inserted
// meanwhile.
type Page struct {
	After string // the last key of the previous page; "" for the first
	Limit int
}

// Page sizes: the default keeps the write-up's unpaginated calls small,
// the maximum keeps any one answer bounded.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 500
)

// Validate checks the limit and the key.
func (p Page) Validate() error {
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		return errs.E(errs.Invalid, "limit %d must be between 1 and %d", p.Limit, MaxPageLimit)
	}
	if len(p.After) > 256 {
		return errs.E(errs.Invalid, "the page cursor is too long")
	}
	return nil
}

// List is one page of T and the After of the next one ("" at the end).
type List[T any] struct {
	Items []T
	Next  string
}
