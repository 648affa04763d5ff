// Package format is how box's listings and inspect look to docker users:
// docker's inspect objects built from box's records (ContainerJSON,
// ImageJSON), the rows docker's ps and images templates see (ContainerRow,
// ImageRow), their --filter keys, and --format templates with docker's
// functions (json, split, join, title, lower, upper, pad, truncate, from
// docker's own templates package) and its "table" directive.
//
// It reads nothing of the store (the CLI hands it records, start configs
// and image configs, or functions that load them; only a record's
// StartedAt may look at /proc) and prints nothing: output is rendered
// whole into a buffer and returned, so a template that fails on the fifth
// row leaves nothing half-printed.
package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/docker/cli/templates"
)

// Template is a parsed --format value.
type Template struct {
	text  string // as the user gave it, for messages
	table bool
	tmpl  *template.Template
}

// escapes are what docker reads in a format as typed in a shell's single
// quotes: a written \t is a tab, \n a newline.
var escapes = strings.NewReplacer(`\t`, "\t", `\n`, "\n")

// Parse parses a --format value as docker does: a Go template, or "table"
// and one, whose output is aligned in columns under a header line.
func Parse(format string) (*Template, error) {
	text, table := strings.CutPrefix(format, "table")
	if !table {
		text = format
	}
	text = escapes.Replace(strings.Trim(text, " "))
	tmpl, err := templates.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parsing --format %q: %w", format, err)
	}
	return &Template{text: format, table: table, tmpl: tmpl}, nil
}

// Table tells whether the template makes a table.
func (t *Template) Table() bool { return t.table }

// Columns is what a listing's template is checked and headed with.
type Columns struct {
	// Zero is an empty row: the template runs on it before any real row,
	// so a field the rows lack is an error even when there are none.
	Zero any
	// Header is each field's column title, for "table".
	Header map[string]string
}

// Render renders one line per row, under a header line for "table" (docker's
// column widths: at least 10, 3 spaces apart). Nothing is returned with an
// error.
func (t *Template) Render(cols Columns, rows []any) ([]byte, error) {
	var body bytes.Buffer
	if cols.Zero != nil {
		if err := t.tmpl.Execute(&bytes.Buffer{}, cols.Zero); err != nil {
			return nil, t.execError(err)
		}
	}
	for _, r := range rows {
		if err := t.tmpl.Execute(&body, r); err != nil {
			return nil, t.execError(err)
		}
		body.WriteByte('\n')
	}
	if !t.table {
		return body.Bytes(), nil
	}
	var out bytes.Buffer
	tw := tabwriter.NewWriter(&out, 10, 1, 3, ' ', 0)
	// As docker: the header comes from the same template run on the
	// titles, with functions that keep them as they are; a field the
	// titles cannot give (a method taking arguments) ends the header there.
	header, err := t.tmpl.Clone()
	if err != nil {
		return nil, err
	}
	var h bytes.Buffer
	_ = header.Funcs(templates.HeaderFunctions).Execute(&h, cols.Header)
	h.WriteByte('\n')
	h.WriteTo(tw)
	body.WriteTo(tw)
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (t *Template) execError(err error) error {
	return fmt.Errorf("executing --format %q: %w", t.text, err)
}

// Object renders one inspected object as docker inspect -f does: on v, or,
// when that fails, on v's JSON decoded into maps, where a missing key is an
// error (so {{.Config.Nope}} says the key is missing rather than naming a
// Go type).
func (t *Template) Object(v any) ([]byte, error) {
	var out bytes.Buffer
	if err := t.tmpl.Execute(&out, v); err == nil {
		return out.Bytes(), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	strict, err := t.tmpl.Clone()
	if err != nil {
		return nil, err
	}
	out.Reset()
	if err := strict.Option("missingkey=error").Execute(&out, raw); err != nil {
		return nil, t.execError(err)
	}
	return out.Bytes(), nil
}

// JSON is docker inspect's output without -f: an array, indented by four
// spaces, or compact (-f json).
func JSON(objs []any, compact bool) ([]byte, error) {
	if objs == nil {
		objs = []any{}
	}
	var b []byte
	var err error
	if compact {
		b, err = json.Marshal(objs)
	} else {
		b, err = json.MarshalIndent(objs, "", "    ")
	}
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// marshalRow is a row's JSON for {{json .}}: every field, as docker's,
// but with "->" in Ports left as it is rather than escaped for HTML.
func marshalRow(fields map[string]string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
