package format

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/run"
)

// Filter is one --filter KEY=VALUE.
type Filter struct{ Key, Value string }

// UnmarshalText parses KEY=VALUE (kong calls it for each --filter).
func (f *Filter) UnmarshalText(b []byte) error {
	k, v, ok := strings.Cut(string(b), "=")
	if !ok || k == "" {
		return fmt.Errorf("invalid filter %q: want KEY=VALUE", b)
	}
	f.Key, f.Value = strings.ToLower(strings.TrimSpace(k)), v
	return nil
}

func (f Filter) String() string { return f.Key + "=" + f.Value }

// byKey groups filters by key, refusing keys not in known: values of one
// key match if any of them does, and every key must match (docker's rule).
func byKey(fs []Filter, cmd string, known ...string) (map[string][]string, error) {
	m := map[string][]string{}
	for _, f := range fs {
		if !slices.Contains(known, f.Key) {
			return nil, fmt.Errorf("invalid filter %q: %s filters by %s", f.String(), cmd, strings.Join(known, ", "))
		}
		m[f.Key] = append(m[f.Key], f.Value)
	}
	return m, nil
}

// label is label=KEY or label=KEY=VALUE.
func matchLabels(conds []string, labels func() map[string]string) bool {
	if len(conds) == 0 {
		return true
	}
	l := labels()
	for _, c := range conds {
		k, v, hasV := strings.Cut(c, "=")
		if got, ok := l[k]; ok && (!hasV || got == v) {
			return true
		}
	}
	return false
}

// ContainerFilter is docker ps --filter: name, id, status, exited,
// ancestor, label, health, before and since.
type ContainerFilter struct {
	names, ids []*regexp.Regexp
	statuses   []string
	exited     []int
	ancestors  []string // image ids
	hasAnc     bool
	labels     []string
	health     []string
	// Before and Since are before= and since=, a container's name or id
	// (the last given, as docker's): the caller resolves them and sets
	// Created.
	Before, Since string
	created       createdRange
	networks      []string // network=: a name or id
}

// createdRange keeps what was made strictly between since and before
// (zero: no bound).
type createdRange struct{ before, since time.Time }

func (c createdRange) match(t time.Time) bool {
	return (c.before.IsZero() || t.Before(c.before)) && (c.since.IsZero() || t.After(c.since))
}

// Created sets when the before= and since= containers were made.
func (f *ContainerFilter) Created(before, since time.Time) { f.created = createdRange{before, since} }

// states are the container states docker accepts in status=; box's
// containers are only ever created, running or exited.
var states = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// NewContainerFilter checks the filters; resolve turns an ancestor=
// image reference into the image's id, "" when there is no such image
// (which then matches no container, as with docker).
func NewContainerFilter(fs []Filter, resolve func(ref string) string) (*ContainerFilter, error) {
	m, err := byKey(fs, "box ps", "name", "id", "status", "exited", "ancestor", "label", "health", "before", "since", "network")
	if err != nil {
		return nil, err
	}
	f := &ContainerFilter{statuses: m["status"], labels: m["label"], health: m["health"], Before: last(m["before"]), Since: last(m["since"]), networks: m["network"]}
	for _, h := range f.health {
		if !slices.Contains([]string{"starting", "healthy", "unhealthy", "none"}, h) {
			return nil, fmt.Errorf("invalid filter %q: health is one of starting, healthy, unhealthy, none", "health="+h)
		}
	}
	for _, key := range []string{"name", "id"} {
		for _, v := range m[key] {
			re, err := regexp.Compile(v)
			if err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", key+"="+v, err)
			}
			if key == "name" {
				f.names = append(f.names, re)
			} else {
				f.ids = append(f.ids, re)
			}
		}
	}
	for _, s := range f.statuses {
		if !slices.Contains(states, s) {
			return nil, fmt.Errorf("invalid filter %q: status is one of %s", "status="+s, strings.Join(states, ", "))
		}
	}
	for _, v := range m["exited"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("invalid filter %q: want an exit status", "exited="+v)
		}
		f.exited = append(f.exited, n)
	}
	for _, ref := range m["ancestor"] {
		f.hasAnc = true
		if id := resolve(ref); id != "" {
			f.ancestors = append(f.ancestors, id)
		}
	}
	return f, nil
}

// All tells whether stopped containers are listed without -a: a status
// filter says which states to list.
func (f *ContainerFilter) All() bool { return len(f.statuses) > 0 }

// Match tells whether a container passes every filter.
func (f *ContainerFilter) Match(r *ContainerRow) bool {
	ct := &r.ct
	// Names match as regular expressions, with or without docker's "/".
	if len(f.names) > 0 && !slices.ContainsFunc(f.names, func(re *regexp.Regexp) bool {
		return re.String() == ct.Name || re.MatchString(ct.Name) || re.MatchString("/"+ct.Name)
	}) {
		return false
	}
	if len(f.ids) > 0 && !slices.ContainsFunc(f.ids, func(re *regexp.Regexp) bool { return re.MatchString(ct.ID) }) {
		return false
	}
	if len(f.statuses) > 0 {
		state := ct.Status
		if ct.IsRestarting() {
			state = "restarting"
		}
		if !slices.Contains(f.statuses, state) {
			return false
		}
	}
	if len(f.exited) > 0 && (ct.Status != "exited" || !slices.Contains(f.exited, ct.ExitCode)) {
		return false
	}
	if f.hasAnc && !slices.Contains(f.ancestors, ct.ImageID) {
		return false
	}
	if !f.created.match(ct.Created) {
		return false
	}
	if len(f.networks) > 0 && !slices.ContainsFunc(f.networks, func(n string) bool { return onNetwork(ct, n) }) {
		return false
	}
	if len(f.health) > 0 {
		h := ct.HealthStatus
		if ct.Health == nil {
			h = "none"
		}
		if !slices.Contains(f.health, h) {
			return false
		}
	}
	return matchLabels(f.labels, r.labels)
}

// onNetwork tells whether the container is on the network named, or
// whose id starts with, n: docker's bridge is box's default network.
func onNetwork(ct *run.Container, n string) bool {
	if ct.Network == nil {
		return false
	}
	if ct.Network.Name != "" {
		return n == ct.Network.Name || len(n) >= 12 && strings.HasPrefix(ct.Network.NetworkID, n)
	}
	mode := ct.Network.Mode
	if mode == "slirp" {
		mode = "bridge"
	}
	return n == mode
}

// ImageFilter is docker images --filter: dangling, reference, label,
// before and since.
type ImageFilter struct {
	dangling   *bool
	references []string
	labels     []string
	// Before and Since are before= and since=, an image's name or id (the
	// last given): the caller resolves them and sets Created.
	Before, Since string
	created       createdRange
}

// Created sets when the before= and since= images were made.
func (f *ImageFilter) Created(before, since time.Time) { f.created = createdRange{before, since} }

// last is the last of vs, "" for none.
func last(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// NewImageFilter checks the filters.
func NewImageFilter(fs []Filter) (*ImageFilter, error) {
	m, err := byKey(fs, "box images", "dangling", "reference", "label", "before", "since")
	if err != nil {
		return nil, err
	}
	f := &ImageFilter{references: m["reference"], labels: m["label"], Before: last(m["before"]), Since: last(m["since"])}
	for _, v := range m["dangling"] {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid filter %q: want true or false", "dangling="+v)
		}
		if f.dangling != nil && *f.dangling != b {
			return nil, fmt.Errorf("invalid filter %q: dangling is given both true and false", "dangling="+v)
		}
		f.dangling = &b
	}
	for _, p := range f.references {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("invalid filter %q: %w", "reference="+p, err)
		}
	}
	return f, nil
}

// Match tells whether an image's row passes every filter. A reference
// pattern matches the name with its tag ("alpine:3*") or without
// ("alpine", "*/app").
func (f *ImageFilter) Match(r *ImageRow) bool {
	if f.dangling != nil && *f.dangling != r.dangling {
		return false
	}
	if !f.created.match(r.img.Created) {
		return false
	}
	if len(f.references) > 0 && !slices.ContainsFunc(f.references, func(p string) bool {
		if r.dangling {
			return false
		}
		a, _ := path.Match(p, r.displayName)
		b, _ := path.Match(p, r.repo)
		return a || b
	}) {
		return false
	}
	return matchLabels(f.labels, func() map[string]string {
		if r.labels == nil {
			return nil
		}
		return r.labels()
	})
}
