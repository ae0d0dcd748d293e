// Package pluginconf decodes plugin configuration strictly: unknown keys,
// duplicate keys and wrong types are one-line errors that name the key's place
// (for example `unknown key "foo" at verifier.claims (line 4)`).
package pluginconf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// MaxBytes bounds a configuration document.
const MaxBytes = 1 << 20

// Decode parses data (YAML or JSON) into out, refusing unknown keys. An empty
// document leaves out untouched.
func Decode(data []byte, out any) (err error) {
	// The YAML library panics on some malformed input (a tag where a list
	// belongs): that is bad input, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("config is not valid YAML: %s", oneLine(fmt.Errorf("%v", r)))
		}
	}()
	if len(data) > MaxBytes {
		return fmt.Errorf("config is %d bytes, more than the %d allowed", len(data), MaxBytes)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return fmt.Errorf("config is not valid YAML: %s", oneLine(err))
	}
	if len(file.Docs) == 0 || file.Docs[0].Body == nil {
		return nil
	}
	if len(file.Docs) > 1 {
		return errors.New("config holds more than one YAML document")
	}
	body := file.Docs[0].Body
	if err := yaml.NodeToValue(body, out, yaml.DisallowUnknownField()); err != nil {
		return describe(err, body)
	}
	return nil
}

// describe turns a decoder error into one line naming the key's path.
func describe(err error, root ast.Node) error {
	var yerr yaml.Error
	if !errors.As(err, &yerr) {
		// Errors from value conversions (an invalid duration) carry no
		// position: find the one value they quote.
		if path, line, ok := locateQuoted(root, err.Error()); ok {
			return fmt.Errorf("%s: %s (line %d)", path, oneLine(err), line)
		}
		return fmt.Errorf("config: %s", oneLine(err))
	}
	tok := yerr.GetToken()
	where := ""
	if tok != nil {
		where = fmt.Sprintf(" (line %d)", tok.Position.Line)
	}
	var unknown *yaml.UnknownFieldError
	if errors.As(err, &unknown) && tok != nil {
		return fmt.Errorf("unknown key %q at %s%s", tok.Value, parentPath(root, tok), where)
	}
	var dup *yaml.DuplicateKeyError
	if errors.As(err, &dup) && tok != nil {
		return fmt.Errorf("duplicate key %q at %s%s", tok.Value, parentPath(root, tok), where)
	}
	path := ""
	if tok != nil {
		path = nodePath(root, tok)
	}
	msg := yerr.GetMessage()
	var typeErr *yaml.TypeError
	if errors.As(err, &typeErr) && tok != nil {
		msg = fmt.Sprintf("cannot use %q as %s", tok.Value, typeName(typeErr.DstType.String()))
	}
	if path != "" {
		return fmt.Errorf("%s: %s%s", path, oneLine(errors.New(msg)), where)
	}
	return fmt.Errorf("config: %s%s", oneLine(errors.New(msg)), where)
}

func typeName(t string) string {
	switch t {
	case "time.Duration":
		return "a duration (like 90s or 1h)"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	if strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") {
		return "a whole number"
	}
	if strings.HasPrefix(t, "[]") {
		return "a list"
	}
	if strings.HasPrefix(t, "map[") {
		return "a mapping"
	}
	return t
}

// nodePath is the dotted path ("verifier.claims.audience") of the node that
// holds tok.
func nodePath(root ast.Node, tok *token.Token) string {
	var found ast.Node
	ast.Walk(visitFunc(func(n ast.Node) bool {
		if found == nil && n.GetToken() == tok {
			found = n
		}
		return found == nil
	}), root)
	if found == nil {
		return ""
	}
	return tidy(found.GetPath())
}

// parentPath is the path of the mapping that holds the key tok.
func parentPath(root ast.Node, tok *token.Token) string {
	p := nodePath(root, tok)
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return "the top level"
}

func tidy(p string) string {
	p = strings.TrimPrefix(p, "$")
	p = strings.TrimPrefix(p, ".")
	if p == "" {
		return "the top level"
	}
	return p
}

// locateQuoted finds the single scalar whose text is the first quoted string
// in msg.
func locateQuoted(root ast.Node, msg string) (string, int, bool) {
	start := strings.IndexByte(msg, '"')
	end := strings.LastIndexByte(msg, '"')
	if start < 0 || end <= start {
		return "", 0, false
	}
	value := msg[start+1 : end]
	var found []ast.Node
	ast.Walk(visitFunc(func(n ast.Node) bool {
		if _, scalar := n.(ast.ScalarNode); scalar && n.GetToken() != nil && n.GetToken().Value == value {
			found = append(found, n)
		}
		return true
	}), root)
	if len(found) != 1 {
		return "", 0, false
	}
	return tidy(found[0].GetPath()), found[0].GetToken().Position.Line, true
}

type visitFunc func(ast.Node) bool

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

// oneLine keeps the first line of a library's multi-line message.
func oneLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
