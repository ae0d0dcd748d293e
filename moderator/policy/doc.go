// Package policy decides who may join an MLS group. The moderator admits a
// participant only after the broker has verified a credential bound to the
// participant's MLS signature key; it then asks the group's policy about the
// verified identity. Without a policy every verified identity is admitted,
// as in SLIM.
//
// # Policy files
//
// A policy is a small YAML (or JSON) document, decoded strictly: an unknown
// key, a bad pattern or a CEL expression that does not type-check is a
// one-line error that names the key. Every condition that is set must hold;
// a list holds when any one of its entries does; deny wins over allow.
//
//	providers: [team, spire]          # plugin entries allowed to vouch; empty = any
//	credential_types: [basic, x509]   # empty = any
//	allow:
//	  spiffe_ids: ["spiffe://example.org/agent-a", "spiffe://example.org/ns/*"]
//	  trust_domains: [example.org]
//	  subjects: ['^org/ns/(alice|bob)_[A-Za-z0-9]{8}$']    # RE2, whole subject
//	  issuers: [https://idp.example.com]
//	  claims: {team: [a, b]}
//	  cel: 'identity.claims.team == "a" && group.size < 100'
//	deny:
//	  subjects: ['^org/ns/mallory_.*$']
//	max_members: 1000
//	min_remaining_validity: 1m
//
// The package README.md explains every key with examples.
//
// # Loading and deciding
//
// Load (or Parse, or New for a Config held elsewhere) compiles the policy
// once: patterns, SPIFFE IDs and CEL programs. A Policy is immutable and safe
// for concurrent use. Notes lists what the operator should see, such as a
// policy without allow conditions:
//
//	p, err := policy.Load("/etc/slimid/groups/chat.yaml")
//	if err != nil {
//		return err // e.g. policy /etc/...: allow.subjects[0]: '^(a' is not a valid RE2 expression: ...
//	}
//	for _, note := range p.Notes() {
//		log.Warn("admission policy", "group", name, "note", note)
//	}
//
// Evaluate takes the verified identity, how it was proved, the group and the
// admission time; the policy reads no clock. The Decision names the rule
// that decided and a reason a person can act on:
//
//	d := p.Evaluate(policy.Input{
//		Identity:       identity, // sdk.Identity from the broker
//		CredentialType: policy.CredentialBasic,
//		Group:          policy.Group{Name: "org/ns/chat", Size: members, Epoch: epoch},
//		Now:            now,
//	})
//	if !d.Allowed {
//		// d.Rule: "deny.subjects[0]"
//		// d.Reason: subject "org/ns/mallory_x1" matches deny.subjects[0] '^org/ns/mallory_.*$'
//	}
//
// Checks run in this order, and the first refusal decides: the Input itself
// (a subject and an admission time are required), deny, providers,
// credential_types, expiry and min_remaining_validity, max_members, then the
// allow conditions in file order.
//
// # CEL
//
// Expressions (cel.dev/cel-go) see three variables:
//
//	identity.subject, .issuer, .provider, .credential_type   string
//	identity.audiences                                        list(string)
//	identity.claims                                           map(string, dyn)
//	identity.spiffe_id, .trust_domain                         string, "" unless the subject is a SPIFFE ID
//	identity.issued_at, .expires_at                           timestamp
//	identity.public_key                                       bytes
//	group.name string, group.size int, group.epoch int
//	now                                                       timestamp (Input.Now)
//
// with the standard library, optional values (identity.claims.?team) and the
// string extensions. A misspelt field is a load error. An expression whose
// worst case, for claim values of up to 256 items, would cost more than
// MaxCELCost is refused at load; an evaluation that reaches MaxCELCost, or
// fails for any reason (a missing claim, a claim of another type), refuses
// the identity: a policy never admits by accident.
package policy
