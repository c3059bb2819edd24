package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAFloodOfRefusedRequestsWritesABoundedLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := accessLog(log, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	for range 10_000 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/limited", nil))
	}
	for range 5 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	}
	refused := strings.Count(buf.String(), "status=429")
	served := strings.Count(buf.String(), "status=200")
	if refused != refusalLines {
		t.Errorf("%d refused requests logged one by one, want %d", refused, refusalLines)
	}
	if served != 5 {
		t.Errorf("%d served requests logged, want every one (5)", served)
	}
	if buf.Len() > 10_000 {
		t.Errorf("10,000 refused requests wrote %d bytes of log", buf.Len())
	}
}

func TestRefusalSamplerSummarisesTheWindowBefore(t *testing.T) {
	var s refusalSampler
	t0 := time.Unix(1_000_000, 0)
	for i := range refusalLines + 7 {
		ok, dropped := s.admit(t0.Add(time.Duration(i) * time.Millisecond))
		if ok != (i < refusalLines) || dropped != 0 {
			t.Fatalf("request %d: ok %v dropped %d", i, ok, dropped)
		}
	}
	ok, dropped := s.admit(t0.Add(refusalWindow))
	if !ok || dropped != 7 {
		t.Fatalf("first request of the next window: ok %v, summarised %d, want true and 7", ok, dropped)
	}
	if _, dropped := s.admit(t0.Add(refusalWindow + time.Millisecond)); dropped != 0 {
		t.Fatalf("the summary was given twice (%d)", dropped)
	}
}
