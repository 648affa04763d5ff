package device

import (
	"fmt"
	"strings"
)

// A ynode is a parsed YAML node: a scalar, a mapping or a sequence.
type ynode struct {
	kind   ykind
	value  string   // a scalar's text, unescaped
	quoted bool     // a quoted scalar is always a string
	keys   []*ynode // a mapping's keys, in order; vals are their values
	vals   []*ynode // a mapping's values, or a sequence's items
	line   int
}

type ykind int

const (
	yscalar ykind = iota
	ymapping
	ysequence
)

// isNull reports whether n is YAML's null: an empty or plain ~/null value.
func (n *ynode) isNull() bool {
	if n == nil {
		return true
	}
	if n.kind != yscalar || n.quoted {
		return false
	}
	switch n.value {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// yamlError is a problem at a line of a spec file.
type yamlError struct {
	line int
	msg  string
}

func (e *yamlError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// parseYAML parses the first document of src, in the subset of YAML that
// CDI specs are written in: block and flow mappings and sequences, plain
// and quoted scalars, comments, and JSON (which is flow YAML). Anchors,
// aliases, tags, directives, block scalars (| and >) and scalars spanning
// lines are refused with the line. It returns nil for an empty document.
func parseYAML(src string) (*ynode, error) {
	src = strings.TrimPrefix(src, "\uFEFF")
	src = strings.ReplaceAll(src, "\r\n", "\n")
	p := &yparser{s: src, line: 1}
	var root *ynode
	err := p.catch(func() {
		p.skipBlank()
		if p.eof() {
			return
		}
		if p.peek() == '%' {
			p.fail("YAML directives (%%) are not supported")
		}
		if p.atMarker("---") {
			p.i += 3
		}
		root = p.value(-1, false)
		p.skipBlank()
		if !p.eof() && !p.atMarker("---") && !p.atMarker("...") {
			p.fail("unexpected %q", p.rest())
		}
	})
	if root != nil && root.kind == yscalar && root.isNull() {
		root = nil
	}
	return root, err
}

type yparser struct {
	s      string
	i      int
	line   int
	lstart int // offset of the current line's start
	depth  int // the depth of flow collections, where tabs are spaces
}

// catch runs f and returns the yamlError it failed with: the recursive
// descent unwinds by panicking, as encoding/json's decoder does.
func (p *yparser) catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*yamlError)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	f()
	return nil
}

func (p *yparser) fail(format string, a ...any) {
	panic(&yamlError{p.line, fmt.Sprintf(format, a...)})
}

func (p *yparser) eof() bool    { return p.i >= len(p.s) }
func (p *yparser) col() int     { return p.i - p.lstart }
func (p *yparser) peek() byte   { return p.at(0) }
func (p *yparser) rest() string { r, _, _ := strings.Cut(p.s[p.i:], "\n"); return r }

func (p *yparser) at(k int) byte {
	if p.i+k < len(p.s) {
		return p.s[p.i+k]
	}
	return 0
}

// blankAt reports whether the byte k ahead ends a token: space, newline
// or the end.
func (p *yparser) blankAt(k int) bool {
	c := p.at(k)
	return c == 0 || c == ' ' || c == '\n' || c == '\t'
}

// atMarker reports whether a document marker (--- or ...) starts the line here.
func (p *yparser) atMarker(m string) bool {
	return p.col() == 0 && strings.HasPrefix(p.s[p.i:], m) && p.blankAt(3)
}

func (p *yparser) newline() {
	p.i++
	p.line++
	p.lstart = p.i
}

// skipSpaces skips spaces and a comment on the current line.
func (p *yparser) skipSpaces() {
	for p.peek() == ' ' || p.peek() == '\t' {
		p.i++
	}
	if p.peek() == '#' && (p.i == 0 || p.s[p.i-1] == ' ' || p.s[p.i-1] == '\t' || p.i == p.lstart) {
		for !p.eof() && p.peek() != '\n' {
			p.i++
		}
	}
}

// skipBlank skips blank lines and comments up to the next content,
// failing on a tab in the indentation (YAML allows only spaces).
func (p *yparser) skipBlank() {
	for {
		for p.peek() == ' ' {
			p.i++
		}
		if p.peek() == '\t' && p.depth == 0 {
			j := p.i
			p.skipSpaces()
			if p.peek() != '\n' && !p.eof() {
				p.i = j
				p.fail("a tab in the indentation")
			}
		}
		p.skipSpaces()
		if p.peek() != '\n' {
			return
		}
		p.newline()
	}
}

// value parses the node after "key:" or "- ", whose parent is at column
// indent: on the same line, or on the next lines more indented (a
// mapping's sequence may be as indented as its key, when seqSame).
func (p *yparser) value(indent int, seqSame bool) *ynode {
	line := p.line
	p.skipSpaces()
	if p.eof() || p.peek() == '\n' {
		p.skipBlank()
		c := p.col()
		if p.eof() || p.atMarker("---") || p.atMarker("...") ||
			c < indent || c == indent && !(seqSame && p.isSeqItem()) {
			return &ynode{line: line}
		}
		if p.isSeqItem() || p.isKey() {
			return p.block()
		}
	} else if p.isSeqItem() || p.isKey() {
		// "- - a" and "- k: v" nest on one line; "k: - a" and "k: j: v"
		// are not YAML.
		if seqSame {
			p.fail("a mapping or sequence cannot start on the line of its key")
		}
		return p.block()
	}
	n := p.inline()
	p.skipSpaces()
	if !p.eof() && p.peek() != '\n' {
		p.fail("unexpected %q after a value", p.rest())
	}
	return n
}

func (p *yparser) isSeqItem() bool { return p.peek() == '-' && p.blankAt(1) }

// isKey reports whether a mapping key (a scalar then ": ") starts here.
func (p *yparser) isKey() bool {
	j, line, ls := p.i, p.line, p.lstart
	defer func() { p.i, p.line, p.lstart = j, line, ls }()
	switch p.peek() {
	case '"', '\'':
		ok := p.catch(func() { p.quoted() }) == nil
		for p.peek() == ' ' {
			p.i++
		}
		return ok && p.peek() == ':' && p.blankAt(1)
	case '[', '{', '#', '&', '*', '!', '|', '>', '%', '@', '`':
		return false
	}
	for !p.eof() && p.peek() != '\n' {
		if p.peek() == ':' && p.blankAt(1) {
			return true
		}
		if p.peek() == '#' && p.s[p.i-1] == ' ' {
			return false
		}
		p.i++
	}
	return false
}

// block parses a block sequence or mapping whose first entry starts here;
// its entries are at this column.
func (p *yparser) block() *ynode {
	c := p.col()
	n := &ynode{line: p.line}
	if p.isSeqItem() {
		n.kind = ysequence
		for {
			p.i++
			n.vals = append(n.vals, p.value(c, false))
			if !p.next(c) || !p.isSeqItem() {
				return n
			}
		}
	}
	n.kind = ymapping
	for {
		if !p.isKey() {
			if p.isSeqItem() {
				p.fail("a sequence item where a mapping key was expected")
			}
			p.fail("%q is not a key: value", p.rest())
		}
		k := p.key()
		for i, o := range n.keys {
			if o.value == k.value {
				p.fail("mapping key %q already defined at line %d", k.value, n.keys[i].line)
			}
		}
		n.keys = append(n.keys, k)
		n.vals = append(n.vals, p.value(c, true))
		if !p.next(c) {
			return n
		}
	}
}

// next moves to the next entry of a block at column c and reports whether
// there is one.
func (p *yparser) next(c int) bool {
	p.skipBlank()
	switch {
	case p.eof() || p.atMarker("---") || p.atMarker("..."):
		return false
	case p.col() > c:
		p.fail("unexpected indentation (scalars that span lines are not supported)")
	}
	return p.col() == c
}

// key parses a mapping key and its colon.
func (p *yparser) key() *ynode {
	var k *ynode
	if p.peek() == '"' || p.peek() == '\'' {
		k = p.quoted()
	} else {
		line, j := p.line, p.i
		for !(p.peek() == ':' && p.blankAt(1)) {
			p.i++
		}
		k = &ynode{value: strings.TrimRight(p.s[j:p.i], " \t"), line: line}
	}
	for p.peek() == ' ' {
		p.i++
	}
	p.i++ // the colon
	return k
}

// inline parses a flow collection or a scalar on the current line.
func (p *yparser) inline() *ynode {
	switch c := p.peek(); c {
	case '[', '{':
		return p.flow()
	case '"', '\'':
		return p.quoted()
	case '&', '*', '!':
		p.fail("YAML anchors, aliases and tags (%c) are not supported", c)
	case '|', '>':
		p.fail("YAML block scalars (%c) are not supported; quote the value", c)
	case '@', '`', '%':
		p.fail("a plain value cannot start with %c", c)
	}
	line, j := p.line, p.i
	for !p.eof() && p.peek() != '\n' && !(p.peek() == '#' && (p.s[p.i-1] == ' ' || p.s[p.i-1] == '\t')) {
		if p.peek() == ':' && p.blankAt(1) {
			p.fail("a mapping is not allowed here (quote a value with \": \")")
		}
		p.i++
	}
	return &ynode{value: strings.TrimRight(p.s[j:p.i], " \t"), line: line}
}

// flow parses a flow collection ([a, b] or {k: v}), which may span lines.
func (p *yparser) flow() *ynode {
	open, line := p.peek(), p.line
	p.depth++
	defer func() { p.depth-- }()
	end := byte(']')
	n := &ynode{kind: ysequence, line: p.line}
	if open == '{' {
		end, n.kind = '}', ymapping
	}
	p.i++
	for {
		p.skipBlank()
		if p.peek() == end {
			p.i++
			return n
		}
		var k *ynode
		if open == '{' {
			k = p.flowScalar()
			p.skipBlank()
			if p.peek() != ':' {
				p.fail("missing : after key %q", k.value)
			}
			p.i++
			p.skipBlank()
			for _, o := range n.keys {
				if o.value == k.value {
					p.fail("mapping key %q already defined at line %d", k.value, o.line)
				}
			}
			n.keys = append(n.keys, k)
		}
		var v *ynode
		switch p.peek() {
		case '[', '{':
			v = p.flow()
		case ',', end:
			v = &ynode{line: p.line}
		default:
			v = p.flowScalar()
		}
		n.vals = append(n.vals, v)
		p.skipBlank()
		switch p.peek() {
		case ',':
			p.i++
		case end:
		default:
			if p.eof() {
				p.line = line
				p.fail("unclosed %c", open)
			}
			p.fail("unexpected %q in a flow collection", p.rest())
		}
	}
}

// flowScalar parses a scalar inside a flow collection: it ends before
// , ] } or ": ".
func (p *yparser) flowScalar() *ynode {
	switch c := p.peek(); c {
	case '"', '\'':
		return p.quoted()
	case '&', '*', '!', '|', '>', '@', '`', '%', '[', '{':
		p.fail("unexpected %c in a flow collection", c)
	}
	line, j := p.line, p.i
	for !p.eof() {
		c := p.peek()
		if c == '\n' || c == ',' || c == ']' || c == '}' || c == ':' && (p.blankAt(1) || strings.IndexByte(",]}", p.at(1)) >= 0) ||
			c == '#' && (p.s[p.i-1] == ' ' || p.s[p.i-1] == '\t') {
			break
		}
		p.i++
	}
	return &ynode{value: strings.TrimRight(p.s[j:p.i], " \t"), line: line}
}
