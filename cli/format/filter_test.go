package format

import (
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/run"
)

func filters(t *testing.T, args ...string) []Filter {
	t.Helper()
	var fs []Filter
	for _, a := range args {
		var f Filter
		if err := f.UnmarshalText([]byte(a)); err != nil {
			t.Fatalf("%q: %v", a, err)
		}
		fs = append(fs, f)
	}
	return fs
}

func TestContainerFilter(t *testing.T) {
	cts := []*run.Container{
		{ID: "aaa111", Name: "web", ImageID: "sha256:nginx", Status: "running"},
		{ID: "bbb222", Name: "web-old", ImageID: "sha256:nginx", Status: "exited", ExitCode: 0},
		{ID: "ccc333", Name: "db", ImageID: "sha256:pg", Status: "exited", ExitCode: 137},
		{ID: "ddd444", Name: "job", ImageID: "sha256:gone", Status: "created"},
	}
	labels := map[string]map[string]string{"sha256:nginx": {"tier": "front", "team": "a"}, "sha256:pg": {"tier": "back"}}
	resolve := func(ref string) string {
		return map[string]string{"nginx": "sha256:nginx", "postgres": "sha256:pg"}[ref]
	}
	for _, tc := range []struct {
		filters []string
		want    []string
		all     bool
	}{
		{nil, []string{"web", "web-old", "db", "job"}, false},
		{[]string{"name=web"}, []string{"web", "web-old"}, false},
		{[]string{"name=^web$"}, []string{"web"}, false},
		{[]string{"name=^/db"}, []string{"db"}, false},
		{[]string{"name=web", "name=db"}, []string{"web", "web-old", "db"}, false},
		{[]string{"id=^bbb"}, []string{"web-old"}, false},
		{[]string{"status=exited"}, []string{"web-old", "db"}, true},
		{[]string{"status=running", "status=created"}, []string{"web", "job"}, true},
		{[]string{"status=paused"}, nil, true},
		{[]string{"exited=137"}, []string{"db"}, false},
		{[]string{"ancestor=nginx"}, []string{"web", "web-old"}, false},
		{[]string{"ancestor=nginx", "ancestor=postgres"}, []string{"web", "web-old", "db"}, false},
		{[]string{"ancestor=not-in-the-store"}, nil, false},
		{[]string{"label=tier"}, []string{"web", "web-old", "db"}, false},
		{[]string{"label=tier=back"}, []string{"db"}, false},
		{[]string{"label=tier=front", "label=team=b"}, []string{"web", "web-old"}, false},
		// Different keys: all must match.
		{[]string{"name=web", "status=exited"}, []string{"web-old"}, true},
		{[]string{"LABEL=team"}, []string{"web", "web-old"}, false},
	} {
		f, err := NewContainerFilter(filters(t, tc.filters...), resolve)
		if err != nil {
			t.Errorf("%q: %v", tc.filters, err)
			continue
		}
		var got []string
		for _, ct := range cts {
			if f.Match(NewContainerRow(ct, func() *v1.Config { return &v1.Config{Labels: labels[ct.ImageID]} }, true)) {
				got = append(got, ct.Name)
			}
		}
		if !slices.Equal(got, tc.want) || f.All() != tc.all {
			t.Errorf("%q matched %q (all %v), want %q (all %v)", tc.filters, got, f.All(), tc.want, tc.all)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	var f Filter
	for _, bad := range []string{"name", "=x", ""} {
		if err := f.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("filter %q: no error", bad)
		}
	}
	for _, tc := range []struct{ filter, want string }{
		{"color=red", `invalid filter "color=red": box ps filters by name, id, status, exited, ancestor, label`},
		{"status=sleeping", `invalid filter "status=sleeping": status is one of created,`},
		{"exited=x", `invalid filter "exited=x"`},
		{"name=[", `invalid filter "name=["`},
	} {
		_, err := NewContainerFilter(filters(t, tc.filter), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.filter, err, tc.want)
		}
	}
	for _, tc := range []struct{ filter, want string }{
		{"color=alpine", `invalid filter "color=alpine": box images filters by dangling, reference, label, before, since`},
		{"dangling=maybe", `want true or false`},
		{"reference=[", `invalid filter "reference=["`},
	} {
		_, err := NewImageFilter(filters(t, tc.filter))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.filter, err, tc.want)
		}
	}
}

func TestImageFilter(t *testing.T) {
	labels := func() map[string]string { return map[string]string{"org.opencontainers.image.vendor": "alpine"} }
	var rows []*ImageRow
	rows = append(rows, ImageRows(alpine, labels, true)...)
	rows = append(rows, ImageRows(dangling, nil, true)...)
	for _, tc := range []struct {
		filters []string
		want    []string // repo:tag
	}{
		{nil, []string{"alpine:latest", "alpine:3.20", "127.0.0.1:5000/tools/alpine:v1", "alpine:<none>", "<none>:<none>"}},
		{[]string{"dangling=true"}, []string{"<none>:<none>"}},
		{[]string{"dangling=false"}, []string{"alpine:latest", "alpine:3.20", "127.0.0.1:5000/tools/alpine:v1", "alpine:<none>"}},
		{[]string{"reference=alpine"}, []string{"alpine:latest", "alpine:3.20", "alpine:<none>"}},
		{[]string{"reference=alpine:3*"}, []string{"alpine:3.20"}},
		{[]string{"reference=*/*/alpine"}, []string{"127.0.0.1:5000/tools/alpine:v1"}},
		{[]string{"reference=alpine:latest", "reference=*/*/*:v1"}, []string{"alpine:latest", "127.0.0.1:5000/tools/alpine:v1"}},
		{[]string{"label=org.opencontainers.image.vendor=alpine", "reference=alpine:latest"}, []string{"alpine:latest"}},
		{[]string{"label=nope"}, nil},
	} {
		f, err := NewImageFilter(filters(t, tc.filters...))
		if err != nil {
			t.Errorf("%q: %v", tc.filters, err)
			continue
		}
		var got []string
		for _, r := range rows {
			if f.Match(r) {
				got = append(got, r.Repository()+":"+r.Tag())
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q matched %q, want %q", tc.filters, got, tc.want)
		}
	}
}

// TestCreatedFilter: before= and since= keep what was made strictly
// before or after the containers the caller resolved them to.
func TestCreatedFilter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var cts []*run.Container
	for i, n := range []string{"a", "b", "c", "d"} {
		cts = append(cts, &run.Container{ID: n, Name: n, Status: "exited", Created: t0.Add(time.Duration(i) * time.Minute)})
	}
	for _, tc := range []struct {
		filters       []string
		before, since time.Time
		want          []string
	}{
		{[]string{"before=c"}, cts[2].Created, time.Time{}, []string{"a", "b"}},
		{[]string{"since=b"}, time.Time{}, cts[1].Created, []string{"c", "d"}},
		{[]string{"since=a", "before=d"}, cts[3].Created, cts[0].Created, []string{"b", "c"}},
	} {
		f, err := NewContainerFilter(filters(t, tc.filters...), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		f.Created(tc.before, tc.since)
		var got []string
		for _, ct := range cts {
			if f.Match(NewContainerRow(ct, nil, true)) {
				got = append(got, ct.Name)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q matched %q, want %q", tc.filters, got, tc.want)
		}
	}
}
