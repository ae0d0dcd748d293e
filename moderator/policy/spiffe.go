package policy

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// spiffePattern is an exact SPIFFE ID or, written with a trailing "/*", every
// ID below a path in one trust domain.
type spiffePattern struct {
	raw    string
	id     spiffeid.ID // the whole ID, or the prefix without "/*"
	prefix bool
}

func parseSPIFFEPattern(raw string) (spiffePattern, error) {
	base, prefix := strings.CutSuffix(raw, "/*")
	if strings.Contains(base, "*") {
		return spiffePattern{}, fmt.Errorf("%q has a * that is not a whole last segment; write an exact ID or a prefix like spiffe://example.org/ns/*", raw)
	}
	id, err := spiffeid.FromString(base)
	if err != nil {
		return spiffePattern{}, fmt.Errorf("%q is not a SPIFFE ID: %v", raw, err)
	}
	if !prefix && id.Path() == "" {
		return spiffePattern{}, fmt.Errorf("%q names a trust domain, not a workload; list it under trust_domains or write %s/*", raw, raw)
	}
	return spiffePattern{raw: raw, id: id, prefix: prefix}, nil
}

// match reports whether id is the pattern's ID or, for a prefix, lies below
// it on a segment boundary (spiffe://td/ns/* covers /ns/a and /ns/a/b, not /ns).
func (p spiffePattern) match(id spiffeid.ID) bool {
	if !p.prefix {
		return id == p.id
	}
	return id.MemberOf(p.id.TrustDomain()) && strings.HasPrefix(id.Path(), p.id.Path()+"/")
}

// parseTrustDomain accepts a trust domain name or its spiffe:// form.
func parseTrustDomain(raw string) (string, error) {
	td, err := spiffeid.TrustDomainFromString(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a trust domain name: %v", raw, err)
	}
	if td.Name() != raw && td.IDString() != raw {
		return "", fmt.Errorf("%q is a SPIFFE ID with a path; list it under spiffe_ids, or write just %s", raw, td.Name())
	}
	return td.Name(), nil
}

// subjectSPIFFE parses a subject as a SPIFFE ID; ok is false when it is not one.
func subjectSPIFFE(subject string) (id spiffeid.ID, ok bool) {
	if !strings.HasPrefix(subject, "spiffe://") {
		return spiffeid.ID{}, false
	}
	id, err := spiffeid.FromString(subject)
	return id, err == nil
}
