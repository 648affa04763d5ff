package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/internal/events"
)

type eventsCmd struct {
	Since  string          `help:"Show events since: a time (2026-12-04T10:00:00Z), Unix seconds or a duration before now (10m); without it, only events from now on." placeholder:"WHEN"`
	Until  string          `help:"Stop at: as --since (a time past prints what was and exits)." placeholder:"WHEN"`
	Filter []format.Filter `short:"f" sep:"none" help:"Only events that match: type=container|image|volume, event=ACTION, container=NAME|ID, image=NAME|ID, volume=NAME, label=KEY[=VALUE]." placeholder:"KEY=VALUE"`
	Format string          `help:"json (one object per line) or a Go template as docker's: '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'." placeholder:"TEMPLATE"`
}

// eventKeys are the filter keys box events takes.
var eventKeys = []string{"type", "event", "container", "image", "volume", "label"}

// Run prints the store's events (package events) as docker events does:
// those since --since, then new ones as they come, until --until or ^C.
func (c *eventsCmd) Run(g *globals) error {
	now := time.Now()
	since, err := logTime("--since", c.Since, now)
	if err != nil {
		return withStatus(125, err)
	}
	until, err := logTime("--until", c.Until, now)
	if err != nil {
		return withStatus(125, err)
	}
	for _, f := range c.Filter {
		if !slices.Contains(eventKeys, f.Key) {
			return withStatus(125, fmt.Errorf("invalid filter %q: box events filters by %s", f.Key, strings.Join(eventKeys, ", ")))
		}
	}
	var tmpl *format.Template
	switch c.Format {
	case "", "json":
	default:
		if tmpl, err = format.Parse(c.Format); err != nil {
			return withStatus(125, err)
		}
	}
	root, _, err := g.storeRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// docker's: either bound reads what was written before now too.
	r := events.NewReader(root, c.Since != "" || c.Until != "")
	for {
		evs, err := r.Next()
		if err != nil {
			return withStatus(1, err)
		}
		for _, e := range evs {
			t := time.Unix(0, e.TimeNano)
			if !since.IsZero() && t.Before(since) || !until.IsZero() && !t.Before(until) || !c.match(e) {
				continue
			}
			if err := c.print(tmpl, e); err != nil {
				return err
			}
		}
		if !until.IsZero() && !time.Now().Before(until) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *eventsCmd) print(tmpl *format.Template, e events.Event) error {
	switch {
	case c.Format == "json":
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	case tmpl != nil:
		b, err := tmpl.Object(e)
		if err != nil {
			return withStatus(1, err)
		}
		fmt.Println(string(b))
	default:
		fmt.Println(e.Text())
	}
	return nil
}

// match applies the filters: values of one key match any, keys all.
func (c *eventsCmd) match(e events.Event) bool {
	byKey := map[string][]string{}
	for _, f := range c.Filter {
		byKey[f.Key] = append(byKey[f.Key], f.Value)
	}
	a := e.Actor.Attributes
	for key, vals := range byKey {
		if !slices.ContainsFunc(vals, func(v string) bool {
			switch key {
			case "type":
				return e.Type == v
			case "event":
				return e.Action == v || strings.HasPrefix(e.Action, v+":")
			case "container":
				return e.Type == "container" && (a["name"] == v || strings.HasPrefix(e.Actor.ID, v))
			case "image":
				return e.Type == "image" && (e.Actor.ID == v || a["name"] == v || strings.HasPrefix(strings.TrimPrefix(e.Actor.ID, "sha256:"), v)) ||
					e.Type == "container" && a["image"] == v
			case "volume":
				return e.Type == "volume" && e.Actor.ID == v
			case "label":
				k, val, has := strings.Cut(v, "=")
				got, ok := a[k]
				return ok && (!has || got == val)
			}
			return false
		}) {
			return false
		}
	}
	return true
}
