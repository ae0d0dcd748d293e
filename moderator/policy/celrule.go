package policy

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// MaxCELCost bounds the work one CEL expression may do for one identity, in
// CEL cost units (about one per operation). An expression whose estimated
// worst case exceeds it is refused at load; an evaluation that reaches it is
// a refusal.
const MaxCELCost = 100_000

// celRule is one compiled expression.
type celRule struct {
	display string // the source on one line, for reasons
	prg     cel.Program
}

func compileCEL(name, src string) (*celRule, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("%s: the CEL environment cannot be built: %v", name, err)
	}
	display := oneLineSource(src)
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%s: %s", name, describeIssues(iss, src))
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%s: %s yields %s; it must yield true or false", name, display, out)
	}
	est, err := env.EstimateCost(ast, claimSizes{})
	if err != nil {
		return nil, fmt.Errorf("%s: the cost of %s cannot be estimated: %v", name, display, err)
	}
	if est.Max > MaxCELCost {
		return nil, fmt.Errorf("%s: %s may cost up to %s, more than the limit of %d (with claim lists of %d items); avoid nesting comprehensions",
			name, display, costText(est.Max), MaxCELCost, estimatedMaxListItems)
	}
	prg, err := env.Program(ast, cel.CostLimit(MaxCELCost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("%s: %s cannot be planned: %v", name, display, err)
	}
	return &celRule{display: display, prg: prg}, nil
}

// celVerdict is the outcome of one evaluation.
type celVerdict int

const (
	celFalse celVerdict = iota
	celTrue
	celFailed
)

// eval returns the verdict and, for celFailed, a reason.
func (r *celRule) eval(vars *celVars) (celVerdict, string) {
	out, _, err := r.prg.Eval(vars)
	if err != nil {
		if cancelled := (interpreter.EvalCancelledError{}); errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			return celFailed, fmt.Sprintf("cel: %s exceeds the cost limit of %d for this identity", r.display, MaxCELCost)
		}
		return celFailed, fmt.Sprintf("cel: %s failed for this identity: %s", r.display, escapeControl(err.Error()))
	}
	switch out {
	case types.True:
		return celTrue, ""
	case types.False:
		return celFalse, ""
	}
	return celFailed, fmt.Sprintf("cel: %s yields %s, not true or false, for this identity", r.display, out.Type().TypeName())
}
