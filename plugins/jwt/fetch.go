package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits on what an issuer may send.
const (
	maxDiscoveryBytes = 256 << 10
	maxJWKSBytes      = 1 << 20
	fetchTimeout      = 10 * time.Second
	defaultMaxAge     = time.Hour
	maxMaxAge         = 24 * time.Hour
)

// newHTTPClient has timeouts at every stage and refuses redirects that
// leave the origin.
func newHTTPClient() *http.Client {
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 5 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
	return &http.Client{Transport: transport, Timeout: fetchTimeout, CheckRedirect: sameOriginRedirect}
}

func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("too many redirects")
	}
	if !sameOrigin(req.URL, via[0].URL) {
		return fmt.Errorf("redirect to another origin (%s) refused", req.URL.Host)
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host)
}

// fetchKeys gets an issuer's JWKS: from the jwks_uri of its OpenID
// discovery document, else from <issuer>/.well-known/jwks.json. It returns
// the document and how long it may be cached.
func fetchKeys(ctx context.Context, client *http.Client, issuer string) ([]byte, time.Duration, error) {
	base := strings.TrimSuffix(issuer, "/")
	jwksURL, discoverErr := discover(ctx, client, issuer)
	if discoverErr != nil {
		jwksURL = base + "/.well-known/jwks.json"
	}
	doc, maxAge, err := get(ctx, client, jwksURL, maxJWKSBytes)
	if err != nil {
		if discoverErr != nil {
			return nil, 0, fmt.Errorf("discovery failed (%v), and so did the fallback: %v", discoverErr, err)
		}
		return nil, 0, err
	}
	return doc, maxAge, nil
}

// discover reads the issuer's discovery document, which must name the same
// issuer and a jwks_uri on the issuer's own origin.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	body, _, err := get(ctx, client, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", maxDiscoveryBytes)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery document is not JSON: %v", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery document names issuer %q, not %q", doc.Issuer, issuer)
	}
	issURL, _ := url.Parse(issuer)
	jwksURL, err := url.Parse(doc.JWKSURI)
	if err != nil || !jwksURL.IsAbs() {
		return "", fmt.Errorf("discovery document's jwks_uri %q is not an absolute URL", doc.JWKSURI)
	}
	if !sameOrigin(jwksURL, issURL) {
		return "", fmt.Errorf("discovery document's jwks_uri %q is not on the issuer's origin", doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

// get fetches u, refusing bodies over limit, and reads Cache-Control.
func get(ctx context.Context, client *http.Client, u string, limit int64) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %v", u, err)
	}
	if int64(len(body)) > limit {
		return nil, 0, fmt.Errorf("GET %s: response is larger than %d bytes", u, limit)
	}
	return body, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge reads max-age from a Cache-Control header: no-store or no-cache
// give 0 (fetch again as soon as allowed), no max-age the default.
func maxAge(cacheControl string) time.Duration {
	for _, directive := range strings.Split(cacheControl, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
			if err != nil || secs < 0 {
				return defaultMaxAge
			}
			return min(time.Duration(secs)*time.Second, maxMaxAge)
		}
	}
	return defaultMaxAge
}
