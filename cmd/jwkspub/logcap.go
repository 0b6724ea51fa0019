package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jwkspub/jwkspub/sources"
)

// capHandler logs each message at most sources.ListLimit times in a run and counts the rest:
// --derive-public on a set of a hundred thousand private JWKs logged a hundred thousand
// identical lines. flush logs one line per message that was cut, with how many were not shown.
type capHandler struct {
	next slog.Handler
	st   *capState // shared with the handlers WithAttrs and WithGroup derive
}

type capState struct {
	mu    sync.Mutex
	seen  map[string]*capCount
	order []string // messages in the order first seen, for a stable flush
}

type capCount struct {
	n     int
	level slog.Level
}

// maxTracked bounds the distinct messages counted; past it, new messages are logged as they come.
const maxTracked = 1000

func newCapHandler(next slog.Handler) *capHandler {
	return &capHandler{next: next, st: &capState{seen: map[string]*capCount{}}}
}

func (h *capHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *capHandler) Handle(ctx context.Context, r slog.Record) error {
	h.st.mu.Lock()
	c, ok := h.st.seen[r.Message]
	if !ok && len(h.st.seen) < maxTracked {
		c = &capCount{level: r.Level}
		h.st.seen[r.Message] = c
		h.st.order = append(h.st.order, r.Message)
	}
	cut := false
	if c != nil {
		c.n++
		cut = c.n > sources.ListLimit
	}
	h.st.mu.Unlock()
	if cut {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *capHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &capHandler{next: h.next.WithAttrs(as), st: h.st}
}

func (h *capHandler) WithGroup(name string) slog.Handler {
	return &capHandler{next: h.next.WithGroup(name), st: h.st}
}

// flush logs, for each message that was cut, how many times it was not shown.
func (h *capHandler) flush(ctx context.Context) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	for _, msg := range h.st.order {
		c := h.st.seen[msg]
		if n := c.n - sources.ListLimit; n > 0 {
			r := slog.NewRecord(time.Now(), c.level, sources.MoreLine(n)+": "+msg, 0)
			_ = h.next.Handle(ctx, r)
		}
	}
}
