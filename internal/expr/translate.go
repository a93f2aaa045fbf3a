package expr

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits applied before an expression reaches expr's parser, whose recursion
// depth follows the nesting of the source.
const (
	maxSourceBytes = 32 << 10 // longest expression body accepted
	maxNesting     = 100      // deepest nesting of ( [ {
)

// spelFunctions maps the Spinnaker helper spelled #name( to the expr
// function that implements it.
var spelFunctions = map[string]string{
	"stage":          "$stage",
	"stageByRefId":   "$stageByRefId",
	"stageExists":    "$stageExists",
	"currentStage":   "$currentStage",
	"currentUser":    "$currentUser",
	"judgment":       "$judgment",
	"judgement":      "$judgment",
	"toJson":         "$toJson",
	"readJson":       "$readJson",
	"toInt":          "$toInt",
	"toFloat":        "$toFloat",
	"toBoolean":      "$toBoolean",
	"toBase64":       "$toBase64",
	"fromBase64":     "$fromBase64",
	"alphanumerical": "$alphanumerical",
	"pipelineId":     "$pipelineId",

	"triggerResolvedArtifact":       "$triggerResolvedArtifact",
	"triggerResolvedArtifactByType": "$triggerResolvedArtifactByType",
	"resolvedArtifacts":             "$resolvedArtifacts",
}

// unsupportedSpelFunctions are Spinnaker helpers Sluice deliberately lacks.
var unsupportedSpelFunctions = map[string]string{
	"fromUrl":                 "it fetches a URL, and expressions cannot reach the network",
	"jsonFromUrl":             "it fetches a URL, and expressions cannot reach the network",
	"yamlFromUrl":             "it fetches a URL, and expressions cannot reach the network",
	"propertiesFromUrl":       "it fetches a URL, and expressions cannot reach the network",
	"readYaml":                "YAML parsing is not offered; use #readJson",
	"readAllYaml":             "YAML parsing is not offered; use #readJson",
	"deployedServerGroups":    "it is specific to server-group clouds",
	"manifestLabelValue":      "it is specific to Kubernetes",
	"pipelineIdInApplication": "expressions can look up pipelines of their own application only, with #pipelineId(name)",
	"canaryConfigNameToId":    "expressions cannot look up canary configs",
	"fetchReference":          "expressions cannot fetch references",
	"doNotEval":               "Sluice evaluates each string once; no escape is needed",
}

// spelWordOperators are SpEL's textual operators (case-insensitive) and
// their expr spelling, recognised where an operator is expected.
var spelWordOperators = map[string]string{
	"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
	"div": "/", "mod": "%", "and": "and", "or": "or", "matches": "matches",
}

// syntaxError is an expression rejected before or during compilation.
type syntaxError struct {
	pos int // byte offset in the expression body, -1 when unknown
	msg string
}

// translation is an expression body rewritten from SpEL spelling to expr.
type translation struct {
	src     string       // expr source
	elvis   map[int]bool // rune offsets in src of "??" written as SpEL's "?:"
	anchors []anchor     // maps rune offsets in src back to the body
}

// anchor records that the token at rune offset out in the translated source
// came from byte offset in of the body, verbatim or not.
type anchor struct {
	out, in  int
	verbatim bool
}

// bodyPos maps a rune offset in the translated source to a byte offset in the
// original body (approximately, inside rewritten tokens).
func (t *translation) bodyPos(out int, body string) int {
	i := sort.Search(len(t.anchors), func(i int) bool { return t.anchors[i].out > out }) - 1
	if i < 0 {
		return 0
	}
	a := t.anchors[i]
	pos := a.in
	if a.verbatim {
		pos += out - a.out
	}
	return min(pos, len(body))
}

// translate rewrites a SpEL-flavoured expression body into expr source. It
// is a small tokenizer, so text inside string literals is never rewritten:
//
//   - '…' and "…" literals follow SpEL: no backslash escapes, a doubled quote
//     stands for itself; they are re-emitted as expr string literals
//   - #name( becomes the helper's function, #root. is dropped, #this is #
//   - null becomes nil, ?: becomes ??, and the word operators eq ne lt gt le
//     ge div mod and or not matches become expr operators
//   - T(…), new, bean references, selection/projection, comments and
//     backquoted strings are rejected with a message saying so
func translate(body string) (*translation, *syntaxError) {
	if len(body) > maxSourceBytes {
		return nil, &syntaxError{pos: -1, msg: fmt.Sprintf("expression is %d bytes long; the limit is %d", len(body), maxSourceBytes)}
	}
	tr := &translator{body: body, t: &translation{}, frames: []frame{{}}}
	tr.out.Grow(len(body) + 16)
	for tr.i < len(body) {
		if err := tr.token(); err != nil {
			return nil, err
		}
	}
	tr.t.src = tr.out.String()
	return tr.t, nil
}

// translator is translate's state as it walks the body one token at a time.
type translator struct {
	body     string
	i        int // byte offset in body of the next token
	t        *translation
	out      strings.Builder
	outRunes int  // runes written to out
	operand  bool // the previous token ends an operand, so an operator may follow
	member   bool // the previous token is . or ?. , so a property name follows
	depth    int  // brackets open
	frames   []frame
	rooted   bool // the previous token is #root., so the next name is a root
}

// frame is an open bracket.
type frame struct {
	close string // what to emit for its closing bracket ("" to copy it)
	elem  bool   // inside a SpEL selection or projection: bare names are the element's
	// chain is the offset in out (bytes and runes) where the operand being
	// written in this bracket starts: a.b[0].c starts at a.
	chain, chainRunes int
}

// inElement reports whether bare names refer to the element of a selection
// or projection.
func (tr *translator) inElement() bool {
	return len(tr.frames) > 0 && tr.frames[len(tr.frames)-1].elem
}

// open records a bracket opened at byte offset i.
func (tr *translator) open(i int, f frame) *syntaxError {
	tr.depth++
	if tr.depth > maxNesting {
		return tr.fail(i, "expression nests brackets more than %d deep", maxNesting)
	}
	f.elem = f.elem || tr.inElement()
	tr.frames = append(tr.frames, f)
	return nil
}

// spelCollections are SpEL's selection and projection operators and the
// expr builtin that does the same.
var spelCollections = map[byte]string{
	'?': "filter", '!': "map", '^': "find", '$': "last(filter",
}

// insertAtChain writes s at the start of the operand that ends at the
// current position, moving the anchors and ?: offsets after it.
func (tr *translator) insertAtChain(s string, in int) {
	f := &tr.frames[len(tr.frames)-1]
	cur := tr.out.String()
	tr.out.Reset()
	tr.out.WriteString(cur[:f.chain])
	tr.out.WriteString(s)
	tr.out.WriteString(cur[f.chain:])
	n := utf8.RuneCountInString(s)
	tr.outRunes += n
	for k := range tr.t.anchors {
		if tr.t.anchors[k].out >= f.chainRunes {
			tr.t.anchors[k].out += n
		}
	}
	if len(tr.t.elvis) > 0 {
		moved := make(map[int]bool, len(tr.t.elvis))
		for k := range tr.t.elvis {
			if k >= f.chainRunes {
				k += n
			}
			moved[k] = true
		}
		tr.t.elvis = moved
	}
	i := sort.Search(len(tr.t.anchors), func(k int) bool { return tr.t.anchors[k].out >= f.chainRunes })
	tr.t.anchors = slices.Insert(tr.t.anchors, i, anchor{out: f.chainRunes, in: in})
}

// emit writes s, which came from byte offset in of the body, and records
// the anchor between the two.
func (tr *translator) emit(s string, in int, verbatim bool) {
	tr.t.anchors = append(tr.t.anchors, anchor{out: tr.outRunes, in: in, verbatim: verbatim})
	tr.out.WriteString(s)
	tr.outRunes += utf8.RuneCountInString(s)
}

// copyBytes emits the next n bytes of the body unchanged and moves past them.
func (tr *translator) copyBytes(n int) {
	tr.emit(tr.body[tr.i:tr.i+n], tr.i, true)
	tr.i += n
}

func (tr *translator) fail(pos int, format string, args ...any) *syntaxError {
	return &syntaxError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// token translates the token at tr.i and moves past it.
func (tr *translator) token() *syntaxError {
	body, i := tr.body, tr.i
	c := body[i]
	wasMember := tr.member
	wasOperand := tr.operand
	start, startRunes, level := tr.out.Len(), tr.outRunes, len(tr.frames)
	tr.member = false
	if err := tr.token1(c, wasMember); err != nil {
		return err
	}
	if !wasOperand && !wasMember && level <= len(tr.frames) && level > 0 &&
		(tr.operand || (level < len(tr.frames) && tr.out.Len() > start)) {
		// This token starts an operand (or opens a bracket that does).
		f := &tr.frames[level-1]
		f.chain, f.chainRunes = start, startRunes
	}
	return nil
}

func (tr *translator) token1(c byte, wasMember bool) *syntaxError {
	body, i := tr.body, tr.i
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		tr.member = wasMember
		tr.copyBytes(1)
	case c == '\'' || c == '"':
		return tr.stringLiteral()
	case c == '`':
		return tr.fail(i, "backquoted strings are not supported; use 'single' or \"double\" quotes")
	case c >= '0' && c <= '9':
		tr.copyBytes(scanNumber(body[i:]))
		tr.operand = true
	case c == '#':
		return tr.hash()
	case isIdentStart(body, i):
		return tr.word(wasMember)
	case c == '?':
		tr.question()
	case c == '.':
		return tr.dot()
	case c == '{' && !tr.operand && isInlineList(body, i):
		if err := tr.open(i, frame{close: "]"}); err != nil {
			return err
		}
		tr.emit("[", i, false) // SpEL's inline list {a, b}
		tr.i++
		tr.operand = false
	case c == '{' && strings.HasPrefix(body[i:], "{:}"):
		tr.emit("{}", i, false) // SpEL's empty inline map
		tr.i += 3
		tr.operand = true
	case c == '(' || c == '[' || c == '{':
		if err := tr.open(i, frame{}); err != nil {
			return err
		}
		tr.copyBytes(1)
		tr.operand = false
	case c == ')' || c == ']' || c == '}':
		tr.depth--
		closing := ""
		if n := len(tr.frames); n > 1 {
			closing = tr.frames[n-1].close
			tr.frames = tr.frames[:n-1]
		}
		if closing != "" {
			tr.emit(closing, i, false)
			tr.i++
		} else {
			tr.copyBytes(1)
		}
		tr.operand = true
	case c == '/' && i+1 < len(body) && (body[i+1] == '/' || body[i+1] == '*'):
		return tr.fail(i, "comments are not supported in expressions")
	case c == ':' && i+1 < len(body) && body[i+1] == ':':
		return tr.fail(i, "'::' is not supported in expressions")
	case c == '@':
		return tr.fail(i, "bean references (@name) are not supported")
	default:
		r, n := utf8.DecodeRuneInString(body[i:])
		if r == utf8.RuneError && n == 1 {
			return tr.fail(i, "expression is not valid UTF-8")
		}
		tr.copyBytes(n)
		tr.operand = false
	}
	return nil
}

// stringLiteral re-emits a SpEL '…' or "…" literal as an expr one.
func (tr *translator) stringLiteral() *syntaxError {
	i, c := tr.i, tr.body[tr.i]
	s, n, ok := scanSpelString(tr.body[i:])
	if !ok {
		return tr.fail(i, "unterminated string starting with %c; close it with %c (write %c%c for a literal %c)", c, c, c, c, c)
	}
	lit := exprQuote(s)
	if tr.out.Len() > 0 && isIdentByte(tr.out.String()[tr.out.Len()-1]) {
		lit = " " + lit // keep expr from reading b"…" as a bytes literal
	}
	tr.emit(lit, i, false)
	tr.i += n
	tr.operand = true
	return nil
}

// hash translates #name: a helper function, #root., #this, a closure's #,
// #acc or #index.
func (tr *translator) hash() *syntaxError {
	body, i := tr.body, tr.i
	name, n := scanIdent(body[i+1:])
	next := skipSpace(body, i+1+n)
	switch {
	case name == "":
		tr.emit("#", i, true) // expr's current element inside a closure
		tr.i++
		tr.operand = true
	case name == "root":
		if next >= len(body) || body[next] != '.' {
			return tr.fail(i, "#root is only supported followed by a property, as in #root.execution")
		}
		tr.i = next + 1
		tr.operand = false
		tr.rooted = true
		tr.member = false
	case name == "this":
		tr.emit("#", i, false)
		tr.i += 1 + n
		tr.operand = true
	case name == "acc" || name == "index":
		tr.copyBytes(1 + n)
		tr.operand = true
	case spelFunctions[name] != "":
		if next >= len(body) || body[next] != '(' {
			return tr.fail(i, "#%s is a function; call it, as in #%s(…)", name, name)
		}
		tr.emit(spelFunctions[name], i, false)
		tr.i += 1 + n
		tr.operand = true
	case unsupportedSpelFunctions[name] != "":
		return tr.fail(i, "#%s is not supported in Sluice: %s", name, unsupportedSpelFunctions[name])
	default:
		return tr.fail(i, "unknown function #%s; available: %s", name, spelFunctionList())
	}
	return nil
}

// word translates an identifier: a property name after . is kept as it
// is; null and the word operators are rewritten; T(…) and new are
// rejected.
func (tr *translator) word(afterMember bool) *syntaxError {
	body, i := tr.body, tr.i
	word, n := scanIdent(body[i:])
	next := skipSpace(body, i+n)
	lower := strings.ToLower(word)
	rooted := tr.rooted
	tr.rooted = false
	switch {
	case afterMember:
		tr.emit(word, i, true) // a property or method name: never rewritten
		tr.operand = true
	case word == "null":
		tr.emit("nil", i, false)
		tr.operand = true
	case lower == "not":
		tr.emit("not", i, false)
		tr.operand = false
	case tr.operand && spelWordOperators[lower] != "":
		tr.emit(" "+spelWordOperators[lower]+" ", i, false)
		tr.operand = false
	case tr.operand && (lower == "instanceof" || lower == "between"):
		return tr.fail(i, "the SpEL operator %s is not supported", word)
	case word == "T" && next < len(body) && body[next] == '(':
		return tr.fail(i, "type references T(…) are not supported: expressions cannot reach Java or Go types; use the # helpers and builtins instead")
	case word == "new" && !tr.operand && next > i+n && isIdentStart(body, next):
		return tr.fail(i, "constructors (new …) are not supported: expressions can only build lists [a, b] and maps {k: v}")
	case !rooted && tr.inElement() && !exprWords[word] && !(next < len(body) && body[next] == '(') &&
		!(next < len(body) && body[next] == ':' && !strings.HasPrefix(body[next:], "::")) && !tr.operand:
		// Inside a selection or projection a bare name is a property of
		// the element, as in SpEL (a map key before ':' stays a key).
		tr.emit("#.", i, false)
		tr.emit(word, i, true)
		tr.operand = true
	case tr.operand && exprOperatorWords[word]:
		tr.emit(word, i, true)
		tr.operand = false
	default:
		tr.emit(word, i, true)
		tr.operand = true
	}
	tr.i += n
	return nil
}

// question translates ?: (SpEL's Elvis, expr's ??), ?. and the ternary ?.
func (tr *translator) question() {
	switch rest := tr.body[tr.i:]; {
	case strings.HasPrefix(rest, "?:"):
		tr.t.elvis = mapSet(tr.t.elvis, tr.outRunes)
		tr.emit("??", tr.i, false)
		tr.i += 2
		tr.operand = false
	case strings.HasPrefix(rest, "?."):
		tr.copyBytes(2)
		tr.member = true
		tr.operand = false
	default:
		tr.copyBytes(1)
		tr.operand = false
	}
}

// dot translates .. (a range), a number such as .5, and the member dot;
// SpEL's selection and projection are rejected.
func (tr *translator) dot() *syntaxError {
	body, i := tr.body, tr.i
	switch {
	case strings.HasPrefix(body[i:], ".."):
		tr.copyBytes(2)
		tr.operand = false
	case i+2 < len(body) && spelCollections[body[i+1]] != "" && body[i+2] == '[':
		if !tr.operand {
			return tr.fail(i, "%s[…] needs a list before it, as in list%s[…]", body[i:i+2], body[i:i+2])
		}
		// a.b.?[cond] becomes filter($spelList(".?[", a.b), (cond')), with
		// the element as # and bare names read as #.name.
		tr.insertAtChain(spelCollections[body[i+1]]+`($spelList("`+body[i:i+3]+`", `, i)
		tr.emit("), (", i, false) // ( keeps expr from reading {k: v} as a closure's braces
		tr.i += 3
		tr.operand = false
		// The last match is last(filter(…)): the sandbox's findLast loses
		// the evaluation state in expr's backward loop.
		closing := strings.Repeat(")", 2+strings.Count(spelCollections[body[i+1]], "("))
		if err := tr.open(i+2, frame{close: closing, elem: true}); err != nil {
			return err
		}
	case !tr.operand && i+1 < len(body) && body[i+1] >= '0' && body[i+1] <= '9':
		tr.copyBytes(scanNumber(body[i:]))
		tr.operand = true
	default:
		tr.copyBytes(1)
		tr.member = true
		tr.operand = false
	}
	return nil
}

// exprWords are the words that keep their meaning inside a selection or
// projection rather than naming a property of the element.
var exprWords = map[string]bool{
	"true": true, "false": true, "nil": true, "null": true, "in": true, "not": true,
	"and": true, "or": true, "let": true, "contains": true, "startsWith": true,
	"endsWith": true, "matches": true,
}

// exprOperatorWords are expr's binary operators spelled as words.
var exprOperatorWords = map[string]bool{"in": true, "contains": true, "startsWith": true, "endsWith": true}

// isInlineList reports whether the { at byte offset i opens a SpEL inline
// list ({a, b} or {}) rather than a map ({k: v}): its first element has no
// ':' of its own outside brackets and strings (a ternary's and ?: are not
// a key's).
func isInlineList(s string, i int) bool {
	depth, ternary := 0, 0
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'', '"':
			_, n, ok := scanSpelString(s[j:])
			if !ok {
				return false
			}
			j += n - 1
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth == 0 {
				return true
			}
			depth--
		case '?':
			if depth == 0 && j+1 < len(s) && s[j+1] != ':' && s[j+1] != '.' && s[j+1] != '?' {
				ternary++
			}
			if j+1 < len(s) && (s[j+1] == ':' || s[j+1] == '?') {
				j++
			}
		case ':':
			switch {
			case j+1 < len(s) && s[j+1] == ':':
				j++
			case depth > 0:
			case ternary > 0:
				ternary--
			default:
				return false
			}
		case ',':
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

// scanSpelString reads a SpEL string literal at the start of s and returns its
// value and length. There are no escapes; a doubled quote is one quote.
func scanSpelString(s string) (string, int, bool) {
	q := s[0]
	var b strings.Builder
	for i := 1; ; {
		e := strings.IndexByte(s[i:], q)
		if e < 0 {
			return "", 0, false
		}
		b.WriteString(s[i : i+e])
		i += e + 1
		if i < len(s) && s[i] == q {
			b.WriteByte(q)
			i++
			continue
		}
		return b.String(), i, true
	}
}

// exprQuote writes s as an expr double-quoted string literal.
func exprQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	b.WriteByte('"')
	return b.String()
}

// scanNumber returns the length of the number literal at the start of s:
// digits, letters (hex, exponents, suffixes), underscores and a decimal point
// that is not the start of "..".
func scanNumber(s string) int {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isIdentByte(c):
			i++
			if (c == 'e' || c == 'E') && i < len(s) && (s[i] == '+' || s[i] == '-') && !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
				i++
			}
		case c == '.' && !strings.HasPrefix(s[i:], ".."):
			i++
		default:
			return i
		}
	}
	return i
}

// scanIdent returns the identifier at the start of s, if any.
func scanIdent(s string) (string, int) {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			break
		}
		i += n
	}
	return s[:i], i
}

func isIdentStart(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r == '_' || r == '$' || unicode.IsLetter(r)
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func mapSet(m map[int]bool, k int) map[int]bool {
	if m == nil {
		m = make(map[int]bool)
	}
	m[k] = true
	return m
}

func spelFunctionList() string {
	names := make([]string, 0, len(spelFunctions))
	for name := range spelFunctions {
		names = append(names, "#"+name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
