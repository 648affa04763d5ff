package device

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// quoted parses a single- or double-quoted scalar on one line.
func (p *yparser) quoted() *ynode {
	q := p.peek()
	n := &ynode{quoted: true, line: p.line}
	p.i++
	var b strings.Builder
	for {
		if p.eof() || p.peek() == '\n' {
			p.fail("quoted values that span lines are not supported (or a %c is missing)", q)
		}
		c := p.peek()
		switch {
		case c == q && q == '\'' && p.at(1) == '\'':
			b.WriteByte('\'')
			p.i += 2
			continue
		case c == q:
			p.i++
			n.value = b.String()
			return n
		case c == '\\' && q == '"':
			p.escape(&b)
			continue
		}
		b.WriteByte(c)
		p.i++
	}
}

// escape decodes a double-quoted string's escape sequence.
func (p *yparser) escape(b *strings.Builder) {
	simple := map[byte]string{'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n",
		'v': "\v", 'f': "\f", 'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"", '/': "/", '\\': "\\",
		'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029"}
	c := p.at(1)
	if s, ok := simple[c]; ok {
		b.WriteString(s)
		p.i += 2
		return
	}
	width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
	if width == 0 || p.i+2+width > len(p.s) {
		p.fail("invalid escape \\%c in a quoted value", c)
	}
	r, err := strconv.ParseUint(p.s[p.i+2:p.i+2+width], 16, 32)
	if err != nil || !utf8.ValidRune(rune(r)) {
		p.fail("invalid escape \\%s in a quoted value", p.s[p.i+1:p.i+2+width])
	}
	b.WriteRune(rune(r))
	p.i += 2 + width
}
