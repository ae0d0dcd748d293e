package policy

import (
	"fmt"
	"regexp"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// Load-time checks of CEL expressions: a worst-case cost estimate, regular
// expression literals, and one-line messages for what the checker finds.

// The worst-case estimate assumes claim values no larger than these. Larger
// values are still bounded by MaxCELCost at evaluation.
const (
	estimatedMaxStringBytes = 1 << 10
	estimatedMaxListItems   = 256
)

// claimSizes bounds the sizes of input values for the load-time estimate;
// without it every input is assumed unbounded and nothing would pass.
type claimSizes struct{}

func (claimSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (claimSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.ComputedSize() != nil {
		return nil
	}
	est := sizeHint(n.Type())
	return &est
}

// sizeHint is the assumed largest value of type t. An optional also states
// the size of what it holds, which orValue() and value() return.
func sizeHint(t *types.Type) cost.SizeEstimate {
	switch {
	case t.Kind() == types.StringKind || t.Kind() == types.BytesKind:
		return cost.SizeEstimate{Max: estimatedMaxStringBytes}
	case t.Kind() == types.OpaqueKind && t.TypeName() == "optional_type" && len(t.Parameters()) == 1:
		elem := sizeHint(t.Parameters()[0])
		return cost.SizeEstimate{Max: 1 + elem.Max, Elem: &elem}
	}
	return cost.SizeEstimate{Max: estimatedMaxListItems}
}

// regexLiterals checks the constant patterns of matches() at load and, unlike
// CEL's own validator, says what is wrong with them.
type regexLiterals struct{}

func (regexLiterals) Name() string { return "cel.validator.matches" }

func (regexLiterals) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *celast.AST, iss *cel.Issues) {
	for _, call := range celast.MatchDescendants(celast.NavigateAST(a), celast.FunctionMatcher("matches")) {
		args := call.AsCall().Args()
		pos := 1
		if call.AsCall().IsMemberFunction() {
			pos = 0
		}
		if len(args) <= pos || args[pos].Kind() != celast.LiteralKind {
			continue
		}
		pattern, ok := args[pos].AsLiteral().Value().(string)
		if !ok {
			continue
		}
		if _, err := regexp.Compile(pattern); err != nil {
			iss.ReportErrorAtID(args[pos].ID(), "%s is not a valid RE2 expression: %s", patternText(pattern), regexpProblem(err))
		}
	}
}

// describeIssues puts the first CEL issue on one line with its place and the
// offending source line.
func describeIssues(iss *cel.Issues, src string) string {
	errs := iss.Errors()
	if len(errs) == 0 {
		return firstLine(iss.String())
	}
	first := errs[0]
	msg := first.Message
	// The parser lists every token it could have accepted; the place says more.
	if i := strings.Index(msg, " expecting {"); i >= 0 {
		msg = msg[:i]
	}
	msg = firstLine(msg)
	line, col := first.Location.Line(), first.Location.Column()+1
	lines := strings.Split(src, "\n")
	where, text := "", ""
	if line >= 1 && line <= len(lines) {
		where = fmt.Sprintf(" at column %d", col)
		if len(lines) > 1 {
			where = fmt.Sprintf(" at line %d, column %d", line, col)
		}
		text = ": " + clip(strings.TrimSpace(lines[line-1]))
	}
	more := ""
	if len(errs) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return msg + where + more + text
}

func costText(c uint64) string {
	if c == ^uint64(0) {
		return "an unbounded amount"
	}
	return fmt.Sprint(c)
}
