package clientlimit

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// buckets holds one token bucket per client, at most max of them. A
// client idle for a full refill has a full bucket, the same as a new
// one, so forgetting it changes nothing; when max clients are active at
// once the least recently seen is forgotten (it starts again with a full
// burst: the price of bounded memory, paid by the quietest client).
type buckets struct {
	rps   rate.Limit
	burst int
	max   int
	idle  time.Duration // a full refill: burst / rps

	mu    sync.Mutex
	byKey map[string]*list.Element // of *bucket
	lru   list.List                // front: most recently seen
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

func newBuckets(rps float64, burst, max int) *buckets {
	return &buckets{
		rps: rate.Limit(rps), burst: burst, max: max,
		idle:  time.Duration(float64(burst) / rps * float64(time.Second)),
		byKey: map[string]*list.Element{},
	}
}

// take spends one of key's tokens at now. When there is none it spends
// nothing and says how long until there is one.
func (b *buckets) take(key string, now time.Time) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.get(key, now)
	r := bk.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// peek says whether key has a token at now without spending it or
// keeping a bucket for a key it has none for (a new one is full); when
// it has none, how long until it has one.
func (b *buckets) peek(key string, now time.Time) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, found := b.byKey[key]
	if !found {
		return true, 0
	}
	lim := e.Value.(*bucket).lim
	if tokens := lim.TokensAt(now); tokens < 1 {
		return false, time.Duration((1 - tokens) / float64(b.rps) * float64(time.Second))
	}
	return true, 0
}

func (b *buckets) get(key string, now time.Time) *bucket {
	if e, ok := b.byKey[key]; ok {
		bk := e.Value.(*bucket)
		bk.seen = now
		b.lru.MoveToFront(e)
		return bk
	}
	b.evict(now)
	bk := &bucket{key: key, lim: rate.NewLimiter(b.rps, b.burst), seen: now}
	b.byKey[key] = b.lru.PushFront(bk)
	return bk
}

// evict forgets the clients idle for a full refill, then, if still at
// max, the least recently seen: at most max buckets remain after the one
// about to be added.
func (b *buckets) evict(now time.Time) {
	for e := b.lru.Back(); e != nil; e = b.lru.Back() {
		bk := e.Value.(*bucket)
		if len(b.byKey) < b.max && now.Sub(bk.seen) < b.idle {
			return
		}
		b.lru.Remove(e)
		delete(b.byKey, bk.key)
	}
}

func (b *buckets) tracked() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byKey)
}

// retryAfterSeconds is Retry-After for a wait: whole seconds, rounded up,
// at least 1 (0 would invite an immediate retry into the same empty
// bucket).
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
