package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// claimMatch returns the claim value, or the first element of a list claim,
// whose text is one of values.
func claimMatch(v any, values []string) (string, bool) {
	switch list := v.(type) {
	case []any:
		for _, e := range list {
			if s, ok := claimText(e); ok && slices.Contains(values, s) {
				return s, true
			}
		}
		return "", false
	case []string:
		for _, s := range list {
			if slices.Contains(values, s) {
				return s, true
			}
		}
		return "", false
	}
	s, ok := claimText(v)
	return s, ok && slices.Contains(values, s)
}

// claimText is a scalar claim as text: strings as they are, numbers in
// their shortest decimal form, booleans as true or false.
func claimText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// claimMismatch says why an allow.claims condition does not hold.
func claimMismatch(c claimRule, v any, present bool) string {
	where := fmt.Sprintf("allow.claims.%s %s", c.name, listText(c.values))
	if !present {
		return fmt.Sprintf("claim %q is missing, and %s requires one of its values", c.name, where)
	}
	switch v.(type) {
	case []any, []string:
		return fmt.Sprintf("claim %q has no element in %s", c.name, where)
	}
	if s, ok := claimText(v); ok {
		return fmt.Sprintf("claim %q is %q, not in %s", c.name, s, where)
	}
	return fmt.Sprintf("claim %q is not a string, number or boolean, so it cannot match %s", c.name, where)
}
