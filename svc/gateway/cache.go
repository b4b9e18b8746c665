package gateway

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
)

// readCache answers repeated reads of one collection (GET on exactly its
// path, any query) from the gateway for up to ttl: under load the same
// page is asked for thousands of times a second, and each proxied copy
// costs management a query and an encoding and the gateway a hop.
// Concurrent misses of one page make one upstream call (singleflight).
//
// What it may serve: a 200 answer, to an identity with the same roles as
// the one it was fetched for (the collection's answer depends on who may
// see it, never on which customer asks). How stale: a write through this
// gateway to the collection's prefix drops every entry, before and after
// it runs, so a client sees its own writes; a write through another
// replica, or a change made by an event (a car's status after a booking),
// shows within ttl. A request with Cache-Control: no-cache skips it.
type readCache struct {
	path    string
	ttl     time.Duration
	maxKeys int
	maxBody int
	now     func() time.Time

	mu      sync.Mutex
	gen     uint64 // bumped by every write: a fill begun before one is not kept
	entries map[string]cachedAnswer
	flights singleflight.Group
	reads   *prometheus.CounterVec // by result: hit, shared, miss
}

type cachedAnswer struct {
	header http.Header
	body   []byte
	at     time.Time
}

// Bounds of what is kept: pages are bounded by the API's limit, so a
// few hundred keys of a few hundred KB at most.
const (
	cacheMaxKeys = 256
	cacheMaxBody = 1 << 20
)

// headers a cached answer does not repeat: the connection's own, and
// those that belong to the one request that fetched it.
var uncachedHeaders = []string{"Date", "Connection", "Keep-Alive", "Transfer-Encoding", "Set-Cookie", "Traceparent", "Tracestate", "Content-Length"}

// Results of a read, MetricReadCache's label (X-Cache says the same,
// upper-case).
const (
	CacheHit    = "hit"
	CacheShared = "shared"
	CacheMiss   = "miss"
)

// NewReadCacheCounter is MetricReadCache, every result present at 0.
func NewReadCacheCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: contract.Metric(contract.Gateway, contract.MetricReadCache),
		Help: "Reads of the collections the gateway caches: hit (answered from the cache), shared (joined another read's upstream call), miss (asked upstream).",
	}, []string{contract.LabelResult})
	for _, r := range []string{CacheHit, CacheShared, CacheMiss} {
		c.WithLabelValues(r)
	}
	return c
}

func newReadCache(path string, ttl time.Duration, reads *prometheus.CounterVec) *readCache {
	return &readCache{path: path, ttl: ttl, maxKeys: cacheMaxKeys, maxBody: cacheMaxBody, now: time.Now, entries: map[string]cachedAnswer{}, reads: reads}
}

// handler serves next through the cache: reads of the collection from
// it, writes under its prefix invalidating it.
func (c *readCache) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			c.invalidate()
			defer c.invalidate()
			next.ServeHTTP(w, r)
		case r.Method == http.MethodGet && r.URL.Path == c.path && !noCache(r):
			c.serve(w, r, next)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func noCache(r *http.Request) bool {
	for _, v := range r.Header.Values("Cache-Control") {
		if v = strings.ToLower(v); strings.Contains(v, "no-cache") || strings.Contains(v, "no-store") {
			return true
		}
	}
	return false
}

func (c *readCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}

// key is the page and who may see it: the identity's roles.
func key(r *http.Request) string {
	roles := "anonymous"
	if id := auth.FromContext(r.Context()); id != nil {
		rs := append([]string(nil), id.Roles...)
		sort.Strings(rs)
		roles = strconv.Itoa(int(id.Kind)) + ":" + strings.Join(rs, ",")
	}
	return roles + " " + r.URL.RawQuery
}

func (c *readCache) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	k := key(r)
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		c.reads.WithLabelValues(CacheHit).Inc()
		write(w, e.header, e.body, http.StatusOK, CacheHit)
		return
	}
	ch := c.flights.DoChan(strconv.FormatUint(gen, 10)+" "+k, func() (any, error) {
		// The fill outlives the request that started it: the others
		// waiting for it must not fail because that one client left.
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
		if rec.status == http.StatusOK && rec.body.Len() <= c.maxBody {
			c.store(k, gen, cachedAnswer{header: rec.header.Clone(), body: rec.body.Bytes(), at: c.now()})
		}
		return rec, nil
	})
	select {
	case res := <-ch:
		rec := res.Val.(*recorder)
		state := CacheMiss
		if res.Shared {
			state = CacheShared
		}
		c.reads.WithLabelValues(state).Inc()
		write(w, rec.header, rec.body.Bytes(), rec.status, state)
	case <-r.Context().Done():
		// The client left; the fill goes on for the others.
	}
}

func (c *readCache) store(k string, gen uint64, e cachedAnswer) {
	for _, h := range uncachedHeaders {
		e.header.Del(h)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return // a write ran meanwhile: this answer may be from before it
	}
	if len(c.entries) >= c.maxKeys {
		for old, oe := range c.entries {
			if c.now().Sub(oe.at) >= c.ttl {
				delete(c.entries, old)
			}
		}
		if len(c.entries) >= c.maxKeys {
			return
		}
	}
	c.entries[k] = e
}

// write answers from a cached or shared response; X-Cache says which.
func write(w http.ResponseWriter, header http.Header, body []byte, status int, state string) {
	h := w.Header()
	for k, vs := range header {
		if k == "Date" || k == "Content-Length" {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	h.Set("X-Cache", strings.ToUpper(state))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// recorder buffers what the upstream answered, for every request waiting
// on the same fill.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.body.Write(b)
}
