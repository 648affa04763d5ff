package format

import (
	"strings"
	"testing"
)

type row struct {
	Name   string
	Tags   []string
	Labels map[string]string
}

func (r row) Upper() string { return strings.ToUpper(r.Name) }

var rowColumns = Columns{
	Zero:   row{},
	Header: map[string]string{"Name": "NAME", "Tags": "TAGS", "Labels": "LABELS", "Upper": "UPPER"},
}

func TestRender(t *testing.T) {
	rows := []any{
		row{Name: "web", Tags: []string{"a", "b"}, Labels: map[string]string{"k": "<v>"}},
		row{Name: "db-long-name", Tags: []string{"c"}},
	}
	for _, tc := range []struct{ format, want string }{
		{"{{.Name}}", "web\ndb-long-name\n"},
		{`{{.Name}}\t{{.Upper}}`, "web\tWEB\ndb-long-name\tDB-LONG-NAME\n"},
		{`{{.Name}}\n`, "web\n\ndb-long-name\n\n"},
		{"  {{.Name}}  ", "web\ndb-long-name\n"},
		// docker's functions.
		{`{{join .Tags ","}}`, "a,b\nc\n"},
		{`{{json .Labels}}`, "{\"k\":\"<v>\"}\nnull\n"},
		{`{{json .Tags}}`, "[\"a\",\"b\"]\n[\"c\"]\n"},
		{`{{upper .Name}} {{title .Name}} {{lower "AbC"}}`, "WEB Web abc\nDB-LONG-NAME Db-Long-Name abc\n"},
		{`{{index (split .Name "-") 0}}`, "web\ndb\n"},
		{`[{{pad .Name 1 2}}]{{truncate .Name 2}}`, "[ web  ]we\n[ db-long-name  ]db\n"},
		// table: a header, and columns at least 10 wide, 3 apart.
		{`table {{.Name}}\t{{.Upper}}`, "NAME           UPPER\nweb            WEB\ndb-long-name   DB-LONG-NAME\n"},
		{`table {{upper .Name}}\t{{join .Tags ","}}`, "NAME           TAGS\nWEB            a,b\nDB-LONG-NAME   c\n"},
		{"table", "\n\n\n"},
	} {
		tmpl, err := Parse(tc.format)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.format, err)
			continue
		}
		got, err := tmpl.Render(rowColumns, rows)
		if err != nil || string(got) != tc.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.format, got, err, tc.want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		format string
		rows   []any
		want   string
	}{
		{"{{.Name", nil, `parsing --format "{{.Name": template: :1: unclosed action`},
		{"{{nosuchfunc .Name}}", nil, `function "nosuchfunc" not defined`},
		// A field no row has is an error even with no rows to print.
		{"{{.Nope}}", nil, `executing --format "{{.Nope}}"`},
		{"table {{.Nope}}", nil, `can't evaluate field Nope`},
		// A template failing on a later row returns nothing.
		{"{{index .Tags 1}}", []any{row{Tags: []string{"a", "b"}}, row{Tags: []string{"c"}}}, "index out of range"},
	} {
		tmpl, err := Parse(tc.format)
		var out []byte
		if err == nil {
			out, err = tmpl.Render(rowColumns, tc.rows)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || out != nil {
			t.Errorf("%q: got %q, %v; want an error with %q and no output", tc.format, out, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error of more than one line: %q", tc.format, err)
		}
	}
}

func TestObject(t *testing.T) {
	obj := &ContainerJSON{ID: "abc", State: ContainerState{ExitCode: 3, Status: "exited"},
		Config: ContainerConfig{Labels: map[string]string{"a": "1"}, Env: []string{"A=1", "B=2"}}}
	for _, tc := range []struct{ format, want, err string }{
		{"{{.State.ExitCode}}", "3", ""},
		{"{{.Id}}", "abc", ""}, // the JSON name, through the maps
		{"{{.State.Status}} {{json .Config.Labels}}", `exited {"a":"1"}`, ""},
		{`{{join .Config.Env ","}}`, "A=1,B=2", ""},
		{`{{index .Config.Labels "a"}}`, "1", ""},
		{"{{.State.Nope}}", "", `map has no entry for key "Nope"`},
	} {
		tmpl, err := Parse(tc.format)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tmpl.Object(obj)
		switch {
		case tc.err == "" && (err != nil || string(got) != tc.want):
			t.Errorf("%q = %q, %v; want %q", tc.format, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q = %q, %v; want an error with %q", tc.format, got, err, tc.err)
		}
	}
}

func TestJSON(t *testing.T) {
	for _, tc := range []struct {
		objs    []any
		compact bool
		want    string
	}{
		{nil, false, "[]\n"},
		{nil, true, "[]\n"},
		{[]any{RootFS{Type: "layers"}}, true, `[{"Type":"layers","Layers":null}]` + "\n"},
		{[]any{RootFS{Type: "layers"}}, false, "[\n    {\n        \"Type\": \"layers\",\n        \"Layers\": null\n    }\n]\n"},
	} {
		got, err := JSON(tc.objs, tc.compact)
		if err != nil || string(got) != tc.want {
			t.Errorf("JSON(%v, %v) = %q, %v; want %q", tc.objs, tc.compact, got, err, tc.want)
		}
	}
}
