package audit

import (
	"context"
	"log/slog"
)

// LogSink writes events to a slog.Logger at level Info, with message
// "audit" and the Field* names as attribute keys. The record carries the
// event's own time.
type LogSink struct {
	log *slog.Logger
}

var _ Sink = (*LogSink)(nil)

// NewLogSink returns a sink writing to log.
func NewLogSink(log *slog.Logger) *LogSink { return &LogSink{log: log} }

// Record logs the event.
func (s *LogSink) Record(e Event) error {
	h := s.log.Handler()
	// The logger's context is not the caller's: an audit record is written
	// whatever happens to the request that caused it.
	ctx := context.Background()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return nil
	}
	r := slog.NewRecord(e.Time, slog.LevelInfo, "audit", 0)
	r.AddAttrs(
		slog.String(FieldEvent, string(e.Kind)),
		slog.String(FieldGroup, e.Group),
		slog.Uint64(FieldEpoch, e.Epoch),
	)
	for _, a := range []struct{ key, value string }{
		{FieldSubject, e.Subject},
		{FieldProvider, e.Provider},
		{FieldCredentialType, e.CredentialType},
		{FieldReason, e.Reason},
	} {
		if a.value != "" {
			r.AddAttrs(slog.String(a.key, a.value))
		}
	}
	return h.Handle(ctx, r)
}
