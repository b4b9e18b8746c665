package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/wiring/local"
)

// One POST /carReservations is one trace: from the gateway through
// reservation to management and payment, through the outbox relays and
// JetStream to the events' consumers in management and view. Every span
// of it has its parent in it, back to the caller's traceparent.
func TestOneTraceAcrossServicesAndEvents(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := local.Start(ctx, local.Options{
		DataDir: t.TempDir(), Getenv: func(string) string { return "" }, SpanExporter: exp,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = sys.Wait() })

	if staffToken, err = sys.Token(contract.RoleStaff, "staff01", time.Hour); err != nil {
		t.Fatal(err)
	}
	send(t, sys.Gateway()+contract.PathCarManagements, "", `{"carNo":"car01","rentalAmt":"10000","procStatus":"WAITING","carRegDt":"20200701"}`, http.StatusCreated)
	tid, caller := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	traceparent := "00-" + tid.String() + "-" + caller.String() + "-01"
	send(t, sys.Gateway()+contract.PathCarReservations, traceparent,
		`{"carNo":"car01","custNo":"cus01","paymtNo":"pay01","procStatus":"RESERVED","rentalAmt":"10000","resrvNo":"res01","resrvDt":"20200801","rentalDt":"20200802","returnDt":"20200805"}`,
		http.StatusCreated)

	// The consumers end their spans last, asynchronously.
	wantLast := []span{{contract.Management, "consume " + string(event.CarReserved)}, {contract.View, "consume " + string(event.CarReserved)},
		{contract.View, "consume " + string(event.PaymentApproved)}}
	var spans map[trace.SpanID]tracetest.SpanStub
	deadline := time.Now().Add(20 * time.Second)
	for {
		spans = inTrace(exp.GetSpans(), tid)
		if hasAll(spans, wantLast) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Logf("%d spans: %v", len(spans), names(spans))
	for id, s := range spans {
		if p := s.Parent.SpanID(); p != caller && spans[p].Name == "" {
			t.Errorf("%s %q (%s): parent %s is not in the trace", service(s), s.Name, id, p)
		}
	}
	// Each consumer's span descends from the gateway's request through
	// the service that published the event.
	for _, tc := range []struct {
		leaf    span
		through []span
	}{
		{span{contract.Management, "consume CarReserved"}, []span{
			{contract.Reservation, "publish " + event.Subject(contract.Reservation, event.CarReserved)},
			{contract.Reservation, "POST /carReservations"}, {contract.Gateway, "POST reservation"}, {contract.Gateway, "POST /carReservations"}}},
		{span{contract.View, "consume CarReserved"}, []span{
			{contract.Reservation, "publish " + event.Subject(contract.Reservation, event.CarReserved)}, {contract.Gateway, "POST /carReservations"}}},
		{span{contract.View, "consume PaymentApproved"}, []span{
			{contract.Payment, "publish " + event.Subject(contract.Payment, event.PaymentApproved)}, {contract.Payment, "POST /payments"},
			{contract.Reservation, "POST payment"}, {contract.Reservation, "POST /carReservations"}, {contract.Gateway, "POST /carReservations"}}},
		{span{contract.Management, "GET /carManagements/{carNo}"}, []span{
			{contract.Reservation, "GET management"}, {contract.Reservation, "POST /carReservations"}}},
		{span{contract.Reservation, "sql transaction"}, []span{{contract.Reservation, "POST /carReservations"}}},
	} {
		path := ancestry(spans, tc.leaf)
		if path == nil {
			t.Errorf("no span %v in the trace; have %v", tc.leaf, names(spans))
			continue
		}
		if !subsequence(tc.through, path) {
			t.Errorf("%v descends from %v, want through %v", tc.leaf, path, tc.through)
		}
	}

	// The trace ID is in the services' log lines and in error bodies.
	if !strings.Contains(logs.String(), `"trace_id":"`+tid.String()+`"`) {
		t.Errorf("no log line carries trace_id %s", tid)
	}
	body := send(t, sys.Gateway()+contract.PathCarReservations+"/nope", traceparent, "", http.StatusNotFound)
	var eb struct{ TraceID string }
	if err := json.Unmarshal(body, &eb); err != nil || eb.TraceID != tid.String() {
		t.Errorf("error body %s: want traceId %s", body, tid)
	}
}

type span struct {
	svc  contract.Service
	name string
}

func service(s tracetest.SpanStub) contract.Service {
	v, _ := s.Resource.Set().Value(attribute.Key("service.name"))
	return contract.Service(v.AsString())
}

func inTrace(stubs tracetest.SpanStubs, tid trace.TraceID) map[trace.SpanID]tracetest.SpanStub {
	out := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range stubs {
		if s.SpanContext.TraceID() == tid {
			out[s.SpanContext.SpanID()] = s
		}
	}
	return out
}

func find(spans map[trace.SpanID]tracetest.SpanStub, want span) (tracetest.SpanStub, bool) {
	for _, s := range spans {
		if s.Name == want.name && service(s) == want.svc {
			return s, true
		}
	}
	return tracetest.SpanStub{}, false
}

func hasAll(spans map[trace.SpanID]tracetest.SpanStub, want []span) bool {
	for _, w := range want {
		if _, ok := find(spans, w); !ok {
			return false
		}
	}
	return true
}

// ancestry is leaf's chain of parents, nearest first; nil without leaf.
func ancestry(spans map[trace.SpanID]tracetest.SpanStub, leaf span) []span {
	s, ok := find(spans, leaf)
	if !ok {
		return nil
	}
	path := []span{}
	for {
		p, ok := spans[s.Parent.SpanID()]
		if !ok {
			return path
		}
		path = append(path, span{service(p), p.Name})
		s = p
	}
}

// subsequence reports whether want appears in path in order.
func subsequence(want, path []span) bool {
	i := 0
	for _, p := range path {
		if i < len(want) && p == want[i] {
			i++
		}
	}
	return i == len(want)
}

func names(spans map[trace.SpanID]tracetest.SpanStub) []span {
	var out []span
	for _, s := range spans {
		out = append(out, span{service(s), s.Name})
	}
	return out
}

func send(t *testing.T, url, traceparent, body string, want int) []byte {
	t.Helper()
	method := http.MethodGet
	if body != "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if staffToken != "" {
		req.Header.Set("Authorization", "Bearer "+staffToken)
	}
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set(contract.TraceParentHeader, traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	return b
}

// syncBuffer is a log sink six services write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// staffToken is what send identifies with (the local issuer's staff).
var staffToken string
