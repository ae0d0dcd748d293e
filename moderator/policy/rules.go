package policy

import (
	"fmt"
	"slices"
	"strings"
)

// denies reports the first deny entry that matches. A deny CEL expression
// that fails to evaluate refuses too: an outage must not admit.
func (r *rules) denies(ev *evaluation) (Decision, bool) {
	id := &ev.in.Identity
	if ev.isSPIFFE {
		for i, pat := range r.spiffeIDs {
			if pat.match(ev.spiffeID) {
				return refuse(fmt.Sprintf("deny.spiffe_ids[%d]", i),
					fmt.Sprintf("SPIFFE ID %q matches deny.spiffe_ids[%d] %q", ev.spiffeID, i, pat.raw)), true
			}
		}
		td := ev.spiffeID.TrustDomain().Name()
		if i := slices.Index(r.trustDomains, td); i >= 0 {
			return refuse(fmt.Sprintf("deny.trust_domains[%d]", i),
				fmt.Sprintf("trust domain %q matches deny.trust_domains[%d]", td, i)), true
		}
	}
	for i, pat := range r.subjects {
		if pat.re.MatchString(id.Subject) {
			return refuse(fmt.Sprintf("deny.subjects[%d]", i),
				fmt.Sprintf("subject %q matches deny.subjects[%d] %s", id.Subject, i, patternText(pat.raw))), true
		}
	}
	if i := slices.Index(r.issuers, id.Issuer); i >= 0 {
		return refuse(fmt.Sprintf("deny.issuers[%d]", i),
			fmt.Sprintf("issuer %q matches deny.issuers[%d]", id.Issuer, i)), true
	}
	for _, c := range r.claims {
		if v, ok := claimMatch(id.Claims[c.name], c.values); ok {
			return refuse("deny.claims."+c.name,
				fmt.Sprintf("claim %q value %q matches deny.claims.%s %s", c.name, v, c.name, listText(c.values))), true
		}
	}
	if r.cel != nil {
		switch verdict, why := r.cel.eval(ev.vars); verdict {
		case celTrue:
			return refuse("deny.cel", fmt.Sprintf("cel: %s is true for this identity", r.cel.display)), true
		case celFailed:
			return refuse("deny.cel", why), true
		}
	}
	return Decision{}, false
}

// allows checks every allow condition that is set and admits when all hold;
// otherwise it refuses with the first that does not.
func (r *rules) allows(ev *evaluation) Decision {
	id := &ev.in.Identity
	var held []string
	if len(r.spiffeIDs) > 0 {
		if !ev.isSPIFFE {
			return refuse("allow.spiffe_ids", fmt.Sprintf("subject %q is not a SPIFFE ID, and allow.spiffe_ids admits only SPIFFE IDs", id.Subject))
		}
		i := slices.IndexFunc(r.spiffeIDs, func(p spiffePattern) bool { return p.match(ev.spiffeID) })
		if i < 0 {
			return refuse("allow.spiffe_ids", fmt.Sprintf("SPIFFE ID %q matches nothing in allow.spiffe_ids %s", ev.spiffeID, idsText(r.spiffeIDs)))
		}
		held = append(held, fmt.Sprintf("SPIFFE ID %q matches allow.spiffe_ids[%d] %q", ev.spiffeID, i, r.spiffeIDs[i].raw))
	}
	if len(r.trustDomains) > 0 {
		if !ev.isSPIFFE {
			return refuse("allow.trust_domains", fmt.Sprintf("subject %q is not a SPIFFE ID, so it has no trust domain for allow.trust_domains %s", id.Subject, listText(r.trustDomains)))
		}
		td := ev.spiffeID.TrustDomain().Name()
		if !slices.Contains(r.trustDomains, td) {
			return refuse("allow.trust_domains", fmt.Sprintf("trust domain %q is not in allow.trust_domains %s", td, listText(r.trustDomains)))
		}
		held = append(held, fmt.Sprintf("trust domain %q is in allow.trust_domains", td))
	}
	if len(r.subjects) > 0 {
		i := slices.IndexFunc(r.subjects, func(p subjectPattern) bool { return p.re.MatchString(id.Subject) })
		if i < 0 {
			return refuse("allow.subjects", fmt.Sprintf("subject %q matches nothing in allow.subjects %s", id.Subject, patternsText(r.subjects)))
		}
		held = append(held, fmt.Sprintf("subject %q matches allow.subjects[%d] %s", id.Subject, i, patternText(r.subjects[i].raw)))
	}
	if len(r.issuers) > 0 {
		if !slices.Contains(r.issuers, id.Issuer) {
			return refuse("allow.issuers", fmt.Sprintf("issuer %q is not in allow.issuers %s", id.Issuer, listText(r.issuers)))
		}
		held = append(held, fmt.Sprintf("issuer %q is in allow.issuers", id.Issuer))
	}
	for _, c := range r.claims {
		v, present := id.Claims[c.name]
		matched, ok := claimMatch(v, c.values)
		if !ok {
			return refuse("allow.claims."+c.name, claimMismatch(c, v, present))
		}
		held = append(held, fmt.Sprintf("claim %q value %q is in allow.claims.%s", c.name, matched, c.name))
	}
	if r.cel != nil {
		switch verdict, why := r.cel.eval(ev.vars); verdict {
		case celFalse:
			return refuse("allow.cel", fmt.Sprintf("cel: %s is false for this identity", r.cel.display))
		case celFailed:
			return refuse("allow.cel", why)
		}
		held = append(held, fmt.Sprintf("cel: %s is true", r.cel.display))
	}
	return Decision{Allowed: true, Rule: "allow", Reason: strings.Join(held, "; ")}
}
