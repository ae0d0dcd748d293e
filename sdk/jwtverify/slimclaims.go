package jwtverify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slimid/slimid/sdk"
)

// slimClaimsPrefix starts SLIM's extra audience that carries custom claims.
const slimClaimsPrefix = "slim-claims:"

// SlimClaimsAudience builds SLIM's extra audience
// `slim-claims:<std base64 of JSON>` carrying custom claims (SPIRE cannot add
// claims), e.g. {"pubkey": "<std b64 key>"}.
func SlimClaimsAudience(claims map[string]any) (string, error) {
	doc, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("slim-claims audience: claims do not encode as JSON: %v", err)
	}
	return slimClaimsPrefix + base64.StdEncoding.EncodeToString(doc), nil
}

// parseSlimClaims decodes one audience when it is a slim-claims one.
func parseSlimClaims(aud string) (map[string]any, bool, error) {
	enc, ok := strings.CutPrefix(aud, slimClaimsPrefix)
	if !ok {
		return nil, false, nil
	}
	doc, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, true, sdk.Reject(sdk.ErrInvalid, "slim-claims audience is not standard base64")
	}
	var claims map[string]any
	if err := json.Unmarshal(doc, &claims); err != nil || claims == nil {
		return nil, true, sdk.Reject(sdk.ErrInvalid, "slim-claims audience is not a JSON object")
	}
	return claims, true, nil
}
