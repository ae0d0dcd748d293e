package policy_test

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/policy"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		wantErr string
	}{
		{
			name:    "unknown top-level key",
			policy:  "providers: [team]\nmax_member: 3\n",
			wantErr: `policy: unknown key "max_member" at the top level (line 2)`,
		},
		{
			name:    "unknown key in allow",
			policy:  "allow:\n  subject: ['^a$']\n",
			wantErr: `policy: unknown key "subject" at allow (line 2)`,
		},
		{
			name:    "list where a mapping belongs",
			policy:  "allow: [a]\n",
			wantErr: `policy: allow: sequence was used where mapping is expected (line 1)`,
		},
		{
			name:    "duration without unit",
			policy:  "min_remaining_validity: 60\n",
			wantErr: `policy: min_remaining_validity: cannot use "60" as a duration (like 90s or 1h) (line 1)`,
		},
		{
			name:    "empty provider",
			policy:  "providers: [team, '']\n",
			wantErr: `policy: providers[1] is empty; name a plugin entry, without white space`,
		},
		{
			name:    "provider with white space",
			policy:  "providers: ['my team']\n",
			wantErr: `policy: providers[0] is "my team"; name a plugin entry, without white space`,
		},
		{
			name:    "claim name with white space",
			policy:  "deny:\n  claims:\n    'team name': [a]\n",
			wantErr: `policy: deny.claims has a claim name that is "team name"; write the claim as tokens carry it, without white space`,
		},
		{
			name:    "subject pattern with a line break stays on one line",
			policy:  "allow:\n  subjects: [\"^(a\\nb\"]\n",
			wantErr: "policy: allow.subjects[0]: \"^(a\\nb\" is not a valid RE2 expression: missing closing ): `^(a\\nb`",
		},
		{
			name:    "unknown credential type",
			policy:  "credential_types: [basic, x509svid]\n",
			wantErr: `policy: credential_types[1]: "x509svid" is not a credential type; use basic or x509`,
		},
		{
			name:    "negative max_members",
			policy:  "max_members: -1\n",
			wantErr: `policy: max_members is -1; use a positive number, or leave it out for no cap`,
		},
		{
			name:    "negative min_remaining_validity",
			policy:  "min_remaining_validity: -1m\n",
			wantErr: `policy: min_remaining_validity is -1m0s; use a positive duration such as 1m, or leave it out`,
		},
		{
			name:    "spiffe id with upper-case trust domain",
			policy:  "allow:\n  spiffe_ids: [spiffe://Example.org/a]\n",
			wantErr: `policy: allow.spiffe_ids[0]: "spiffe://Example.org/a" is not a SPIFFE ID: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`,
		},
		{
			name:    "spiffe id with a star inside",
			policy:  "deny:\n  spiffe_ids: ['spiffe://example.org/*/a']\n",
			wantErr: `policy: deny.spiffe_ids[0]: "spiffe://example.org/*/a" has a * that is not a whole last segment; write an exact ID or a prefix like spiffe://example.org/ns/*`,
		},
		{
			name:    "spiffe id with a partial star segment",
			policy:  "allow:\n  spiffe_ids: ['spiffe://example.org/ns/agent*']\n",
			wantErr: `policy: allow.spiffe_ids[0]: "spiffe://example.org/ns/agent*" has a * that is not a whole last segment; write an exact ID or a prefix like spiffe://example.org/ns/*`,
		},
		{
			name:    "spiffe id that is a trust domain",
			policy:  "allow:\n  spiffe_ids: [spiffe://example.org]\n",
			wantErr: `policy: allow.spiffe_ids[0]: "spiffe://example.org" names a trust domain, not a workload; list it under trust_domains or write spiffe://example.org/*`,
		},
		{
			name:    "spiffe id with a dot segment",
			policy:  "allow:\n  spiffe_ids: [spiffe://example.org/ns/../admin]\n",
			wantErr: `policy: allow.spiffe_ids[0]: "spiffe://example.org/ns/../admin" is not a SPIFFE ID: path cannot contain dot segments`,
		},
		{
			name:    "trust domain with a path",
			policy:  "allow:\n  trust_domains: [spiffe://example.org/ns]\n",
			wantErr: `policy: allow.trust_domains[0]: "spiffe://example.org/ns" is a SPIFFE ID with a path; list it under spiffe_ids, or write just example.org`,
		},
		{
			name:    "trust domain with bad characters",
			policy:  "deny:\n  trust_domains: ['Evil Org']\n",
			wantErr: `policy: deny.trust_domains[0]: "Evil Org" is not a trust domain name: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`,
		},
		{
			name:    "subject pattern that is not RE2",
			policy:  "deny:\n  subjects: ['^org/ns/(mallory_.*$']\n",
			wantErr: "policy: deny.subjects[0]: '^org/ns/(mallory_.*$' is not a valid RE2 expression: missing closing ): `^org/ns/(mallory_.*$`",
		},
		{
			name:    "subject pattern with a Perl lookahead",
			policy:  "allow:\n  subjects: ['^(?!mallory).*$']\n",
			wantErr: "policy: allow.subjects[0]: '^(?!mallory).*$' is not a valid RE2 expression: invalid or unsupported Perl syntax: `(?!`",
		},
		{
			name:    "empty subject pattern",
			policy:  "allow:\n  subjects: ['']\n",
			wantErr: `policy: allow.subjects[0] is empty; write an RE2 expression such as '^org/ns/alice_.*$'`,
		},
		{
			name:    "empty issuer",
			policy:  "allow:\n  issuers: ['']\n",
			wantErr: "policy: allow.issuers[0] is empty; write the issuer as tokens carry it in `iss`",
		},
		{
			name:    "claim without values",
			policy:  "allow:\n  claims:\n    team: []\n",
			wantErr: `policy: allow.claims.team lists no values; list the accepted values or remove the claim`,
		},
		{
			name:    "claim value that is not a list",
			policy:  "allow:\n  claims:\n    team: a\n",
			wantErr: `policy: allow.claims.team: string was used where sequence is expected (line 3)`,
		},
		{
			name:    "cel undefined field",
			policy:  "allow:\n  cel: identity.subjet == 'org/ns/alice'\n",
			wantErr: `policy: allow.cel: undefined field 'subjet' at column 9: identity.subjet == 'org/ns/alice'`,
		},
		{
			name:    "cel undefined variable",
			policy:  "allow:\n  cel: claims.team == 'a'\n",
			wantErr: `policy: allow.cel: undeclared reference to 'claims' at column 1: claims.team == 'a'`,
		},
		{
			name:    "cel syntax error",
			policy:  "allow:\n  cel: 'identity.subject =='\n",
			wantErr: `policy: allow.cel: Syntax error: mismatched input '<EOF>' at column 20: identity.subject ==`,
		},
		{
			name:    "cel error on the second line",
			policy:  "deny:\n  cel: |\n    identity.subject == 'a' ||\n    group.sise > 3\n",
			wantErr: `policy: deny.cel: undefined field 'sise' at line 2, column 6: group.sise > 3`,
		},
		{
			name:    "cel with several errors",
			policy:  "allow:\n  cel: identity.a == group.b\n",
			wantErr: `policy: allow.cel: undefined field 'a' at column 9 (and 1 more): identity.a == group.b`,
		},
		{
			name:    "cel not yielding a boolean",
			policy:  "allow:\n  cel: identity.subject\n",
			wantErr: `policy: allow.cel: identity.subject yields string; it must yield true or false`,
		},
		{
			name:    "cel type error",
			policy:  "allow:\n  cel: group.size == 'ten'\n",
			wantErr: `policy: allow.cel: found no matching overload for '_==_' applied to '(int, string)' at column 12: group.size == 'ten'`,
		},
		{
			name:    "cel invalid regex literal",
			policy:  "allow:\n  cel: identity.subject.matches('^(alice')\n",
			wantErr: "policy: allow.cel: '^(alice' is not a valid RE2 expression: missing closing ): `^(alice` at column 26: identity.subject.matches('^(alice')",
		},
		{
			name:    "cel invalid duration literal",
			policy:  "allow:\n  cel: now - identity.issued_at < duration('5 minutes')\n",
			wantErr: `policy: allow.cel: invalid duration argument at column 37: now - identity.issued_at < duration('5 minutes')`,
		},
		{
			name:    "cel too long",
			policy:  "allow:\n  cel: '" + strings.Repeat("true && ", 2100) + "true'\n",
			wantErr: `policy: allow.cel: expression code point size exceeds limit: size: 16804, limit 16384`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Parse([]byte(tt.policy))
			if err == nil {
				t.Fatalf("Parse accepted the policy: notes %v", p.Notes())
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error:\n got  %s\n want %s", err, tt.wantErr)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		file string
		edit func(*policy.Input)
		want policy.Decision
	}{
		{
			file: "testdata/spiffe_only.yaml",
			want: policy.Decision{Allowed: true, Rule: "allow", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches allow.spiffe_ids[1] "spiffe://example.org/ns/agents/*"`},
		},
		{
			file: "testdata/spiffe_only.yaml",
			edit: func(in *policy.Input) { in.Identity.Subject = "spiffe://example.org/ns/agents/sandbox/x" },
			want: policy.Decision{Rule: "deny.spiffe_ids[0]", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/sandbox/x" matches deny.spiffe_ids[0] "spiffe://example.org/ns/agents/sandbox/*"`},
		},
		{
			file: "testdata/spiffe_only.yaml",
			edit: func(in *policy.Input) { in.CredentialType = policy.CredentialBasic },
			want: policy.Decision{Rule: "credential_types", Reason: `credential type "basic" is not in credential_types [x509]`},
		},
		{
			file: "testdata/shared_secret_team.yaml",
			edit: func(in *policy.Input) { *in = sharedSecretInput() },
			want: policy.Decision{Allowed: true, Rule: "allow", Reason: `subject "org/ns/alice_Ab3dE9xQ" matches allow.subjects[0] '^org/ns/(alice|bob)_[A-Za-z0-9]{8}$'`},
		},
		{
			file: "testdata/shared_secret_team.yaml",
			edit: func(in *policy.Input) {
				*in = sharedSecretInput()
				in.Identity.Subject = "org/ns/carol_Ab3dE9xQ"
			},
			want: policy.Decision{Rule: "allow.subjects", Reason: `subject "org/ns/carol_Ab3dE9xQ" matches nothing in allow.subjects ['^org/ns/(alice|bob)_[A-Za-z0-9]{8}$']`},
		},
		{
			file: "testdata/jwt_claims.yaml",
			edit: func(in *policy.Input) { *in = jwtInput() },
			want: policy.Decision{Allowed: true, Rule: "allow", Reason: `issuer "https://idp.example.com" is in allow.issuers; ` +
				`claim "team" value "a" is in allow.claims.team; cel: "staff" in identity.claims.?roles.orValue([]) && group.size < 100 is true`},
		},
		{
			file: "testdata/jwt_claims.yaml",
			edit: func(in *policy.Input) {
				*in = jwtInput()
				delete(in.Identity.Claims, "roles")
			},
			want: policy.Decision{Rule: "allow.cel", Reason: `cel: "staff" in identity.claims.?roles.orValue([]) && group.size < 100 is false for this identity`},
		},
		{
			file: "testdata/jwt_claims.yaml",
			edit: func(in *policy.Input) {
				*in = jwtInput()
				in.Identity.Claims["suspended"] = true
			},
			want: policy.Decision{Rule: "deny.claims.suspended", Reason: `claim "suspended" value "true" matches deny.claims.suspended [true]`},
		},
		{
			file: "testdata/jwt_claims.yaml",
			edit: func(in *policy.Input) {
				*in = jwtInput()
				in.Identity.ExpiresAt = now.Add(4 * time.Minute)
			},
			want: policy.Decision{Rule: "min_remaining_validity", Reason: "the credential expires at 2026-12-04T12:04:00Z, in 4m0s, sooner than min_remaining_validity 5m0s"},
		},
		{
			file: "testdata/every_field.yaml",
			edit: func(in *policy.Input) { in.Identity.Claims = map[string]any{"team": "a"} },
			want: policy.Decision{Allowed: true, Rule: "allow", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches allow.spiffe_ids[1] "spiffe://example.org/ns/*"; ` +
				`trust domain "example.org" is in allow.trust_domains; ` +
				`subject "spiffe://example.org/ns/agents/agent-b" matches allow.subjects[0] '^spiffe://example\.org/.*$'; ` +
				`issuer "spiffe://example.org" is in allow.issuers; claim "team" value "a" is in allow.claims.team; ` +
				`cel: identity.claims.team == "a" && group.size < 100 is true`},
		},
		{
			file: "testdata/every_field.yaml",
			edit: func(in *policy.Input) { in.Identity.Claims = map[string]any{"team": "a", "level": 10} },
			want: policy.Decision{Rule: "deny.cel", Reason: `cel: identity.claims.?level.orValue(0) > 9 is true for this identity`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := mustLoad(t, tt.file)
			if notes := p.Notes(); len(notes) != 0 {
				t.Errorf("notes = %q, want none", notes)
			}
			in := spiffeInput()
			if tt.edit != nil {
				tt.edit(&in)
			}
			checkDecision(t, p.Evaluate(in), tt.want)
		})
	}
}

// jwtInput is a staff member of team a with a token from the company IdP.
func jwtInput() policy.Input {
	in := sharedSecretInput()
	in.Identity.Subject = "5f0c2a9e-0c1d-4a43-9f5a-1d2e3f4a5b6c"
	in.Identity.Issuer = "https://idp.example.com"
	in.Identity.Provider = "idp"
	in.Identity.Claims = map[string]any{"team": "a", "roles": []any{"staff", "oncall"}}
	return in
}

func TestLoadErrors(t *testing.T) {
	_, err := policy.Load("testdata/missing.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
	if want := "policy: open testdata/missing.yaml: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("error:\n got  %v\n want %s", err, want)
	}

	big := t.TempDir() + "/big.yaml"
	writeFile(t, big, "# "+strings.Repeat("x", 1<<20)+"\n")
	_, err = policy.Load(big)
	if want := "policy " + big + ": the file is larger than 1048576 bytes, the most a policy may hold"; err == nil || err.Error() != want {
		t.Errorf("error:\n got  %v\n want %s", err, want)
	}

	path := t.TempDir() + "/bad.yaml"
	writeFile(t, path, "allow:\n  subjects: ['(']\n")
	_, err = policy.Load(path)
	if want := "policy " + path + ": allow.subjects[0]: '(' is not a valid RE2 expression: missing closing ): `(`"; err == nil || err.Error() != want {
		t.Errorf("error:\n got  %v\n want %s", err, want)
	}
}

func TestNotes(t *testing.T) {
	const note = "no allow conditions: any verified identity is admitted unless deny, providers, credential_types, max_members or min_remaining_validity refuses it"
	tests := []struct {
		name   string
		policy *policy.Policy
		want   []string
	}{
		{name: "empty file", policy: mustParse(t, ""), want: []string{note}},
		{name: "comments only", policy: mustParse(t, "# nothing yet\n"), want: []string{note}},
		{name: "no allow section", policy: mustParse(t, "providers: [team]\ndeny:\n  subjects: ['^x$']\n"), want: []string{note}},
		{name: "empty allow lists", policy: mustParse(t, "allow:\n  subjects: []\n  cel: '  '\n"), want: []string{note}},
		{name: "allow section", policy: mustParse(t, "allow:\n  trust_domains: [example.org]\n"), want: nil},
		{name: "Default", policy: policy.Default(), want: []string{note}},
		{name: "zero", policy: &policy.Policy{}, want: []string{note}},
		{name: "nil", policy: nil, want: []string{note}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Notes(); !slices.Equal(got, tt.want) {
				t.Errorf("Notes() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	p, err := policy.New(policy.Config{
		Allow:      policy.Rules{Subjects: []string{`^org/ns/alice_.*$`}},
		MaxMembers: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkDecision(t, p.Evaluate(sharedSecretInput()), policy.Decision{Allowed: true, Rule: "allow",
		Reason: `subject "org/ns/alice_Ab3dE9xQ" matches allow.subjects[0] '^org/ns/alice_.*$'`})

	_, err = policy.New(policy.Config{Deny: policy.Rules{CEL: "identity.nope"}})
	if want := "policy: deny.cel: undefined field 'nope' at column 9: identity.nope"; err == nil || err.Error() != want {
		t.Errorf("error:\n got  %v\n want %s", err, want)
	}
}

func TestZeroPolicyAdmits(t *testing.T) {
	want := policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"}
	var zero policy.Policy
	var none *policy.Policy
	for name, p := range map[string]*policy.Policy{"zero": &zero, "nil": none, "Default": policy.Default()} {
		t.Run(name, func(t *testing.T) {
			checkDecision(t, p.Evaluate(sharedSecretInput()), want)
			checkDecision(t, p.Evaluate(spiffeInput()), want)
			in := sharedSecretInput()
			in.Identity.ExpiresAt = now.Add(-time.Second)
			checkDecision(t, p.Evaluate(in), policy.Decision{Rule: "expiry",
				Reason: "the credential expired at 2026-12-04T11:59:59Z, at or before the admission time 2026-12-04T12:00:00Z"})
		})
	}
}

func TestDecisionString(t *testing.T) {
	tests := []struct {
		d    policy.Decision
		want string
	}{
		{policy.Decision{Allowed: true, Rule: "allow", Reason: "r"}, "admitted by allow: r"},
		{policy.Decision{Rule: "deny.cel", Reason: "r"}, "refused by deny.cel: r"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestParseNeverPanics covers documents on which the YAML decoder itself
// panics: they are refused with one line.
func TestParseNeverPanics(t *testing.T) {
	for _, doc := range []string{"providers: !x\n", "allow:\n  subjects: !!seq\n", "credential_types: !x 1\n"} {
		t.Run(doc, func(t *testing.T) {
			_, err := policy.Parse([]byte(doc))
			if err == nil {
				t.Fatal("Parse accepted the document")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "policy: ") || strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}
}
