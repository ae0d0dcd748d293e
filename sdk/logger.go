package sdk

import (
	"io"
	"log/slog"
	"strings"
)

// hclog's JSON field names and time layout, which go-plugin parses on the
// host to re-emit a plugin's log lines with their level and fields.
const (
	hclogTime    = "@timestamp"
	hclogLevel   = "@level"
	hclogMessage = "@message"
	hclogLayout  = "2006-01-02T15:04:05.000000Z07:00"
)

// PluginLogger returns a logger that writes JSON lines the host re-emits as
// the plugin's own log records.
func PluginLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String(hclogTime, a.Value.Time().Format(hclogLayout))
			case slog.LevelKey:
				return slog.String(hclogLevel, strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String(hclogMessage, a.Value.String())
			}
			return a
		},
	}))
}
