// Package audit records what the moderator decides about members: every
// admission and refusal, removal, committed or refused credential update,
// expiry and re-verification, with the group, the epoch, the subject, the
// plugin that vouched for it and, for a person, the reason.
//
// A Sink receives events. LogSink writes them to a log/slog logger under
// stable field names (the Field constants); FileSink appends them to a file
// as JSON lines with the same names; Multi sends them to several sinks:
//
//	file, err := audit.OpenFile("/var/log/slimid/audit.jsonl")
//	sink := audit.Multi(audit.NewLogSink(logger), file)
//	mod, err := moderator.Open(ctx, moderator.Config{Audit: sink, ...})
//
// A line of the file:
//
//	{"time":"2026-12-04T17:00:00Z","event":"refused","group":"org/ns/chat","epoch":3,
//	 "subject":"org/ns/alice","provider":"team","credential_type":"basic",
//	 "reason":"token of \"org/ns/alice\" binds key sha256:… but the leaf carries key sha256:…"}
package audit
