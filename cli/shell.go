package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/config"
	"github.com/box-run/box/image"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/shell"
	"github.com/box-run/box/shell/dotfile"
	"github.com/box-run/box/shell/forward"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/volume"
)

type shellCmd struct {
	List    bool   `help:"List the shells."`
	Stop    string `help:"Stop a shell's container (files outside the home are kept)." placeholder:"NAME"`
	Rm      string `help:"Remove a shell: its container and record (the home is the host's and stays)." placeholder:"NAME"`
	Rebuild string `help:"Make a shell again from its (new) dotfile and image: packages and create hooks run again; the home is untouched." placeholder:"NAME"`
	Force   bool   `short:"f" help:"With --stop, --rm or --rebuild: go ahead even while a terminal is in the shell, ending its session."`
	// A devcontainer.json's shell is named after its project: the argument
	// before -- is then the file, not a name.
	Devcontainer bool `name:"devcontainer" help:"Enter the shell of a devcontainer.json: the file (or project folder) named before --, else .devcontainer/devcontainer.json or .devcontainer.json here or above; the shell is named after the project's folder."`
	// SharedWd is for box export's commands: see shell.BinScript.
	SharedWd bool     `name:"shared-wd" hidden:"" help:"Fail unless the working directory is shared with the shell."`
	Args     []string `arg:"" optional:"" passthrough:"" name:"name [-- command]" help:"The shell (default: the project's, else \"default\"), or with --devcontainer the file; then -- and a command to run instead of the login shell."`
}

// loginShellFix sets the login shell ($2) of uid $1 in /etc/passwd, writing
// the file in place (it is a bind mount).
const loginShellFix = `command -v awk >/dev/null || exit 0
p=$(awk -F: -v OFS=: -v uid="$1" -v sh="$2" '$3 == uid { $7 = sh } { print }' /etc/passwd) && printf '%s\n' "$p" > /etc/passwd`

// keepAlive is a shell container's workload: it waits, as the user, until
// the container is stopped; enters are execs beside it.
const keepAlive = `trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done`

// Run enters a shell, or lists, stops, removes or rebuilds shells.
func (c *shellCmd) Run(g *globals) error {
	modes := 0
	for _, on := range []bool{c.List, c.Stop != "", c.Rm != "", c.Rebuild != ""} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return withStatus(125, errors.New("box shell takes one of --list, --stop, --rm and --rebuild at a time"))
	case c.Force && (modes == 0 || c.List):
		return withStatus(125, errors.New("-f/--force goes with --stop, --rm or --rebuild"))
	}
	switch {
	case c.List:
		return c.list(g)
	case c.Stop != "":
		return c.stop(g, c.Stop, false)
	case c.Rm != "":
		return c.stop(g, c.Rm, true)
	case c.Rebuild != "":
		return c.rebuild(g, c.Rebuild)
	}
	name, cmd := "", c.Args
	if len(cmd) > 0 && cmd[0] != "--" {
		name, cmd = cmd[0], cmd[1:]
	}
	if len(cmd) > 0 {
		if cmd[0] != "--" {
			return withStatus(125, fmt.Errorf("box shell takes a name, then -- and a command: %q", cmd[0]))
		}
		cmd = cmd[1:]
	}
	home, err := locate.Home()
	if err != nil {
		return err
	}
	wd, _ := os.Getwd()
	ss, cs, err := g.shellStores()
	if err != nil {
		return err
	}
	var d *dotfile.Dotfile
	broken := false // the dotfile does not pass box's checks now
	switch {
	case c.Devcontainer:
		d, err = dotfile.FindDevContainer(name, wd)
	case name != "":
		if err := shell.CheckName(name); err != nil {
			return withStatus(125, err)
		}
		st, _ := ss.Load(name)
		d, err = dotfile.Recorded(name, st, shell.ConfigDir(home))
		if err != nil && st != nil {
			// A dotfile broken since: the shell is still as it was made.
			fmt.Fprintf(os.Stderr, "box: %v\nbox: entering shell %s as it was made\n", err, name)
			d, err, broken = &dotfile.Dotfile{Name: name}, nil, true
		}
	default:
		d, err = dotfile.Find("", wd, shell.ConfigDir(home))
		// A project's box.toml broken since its shell was made: that
		// shell, as it was made, as box shell NAME enters it.
		var ce *config.Error
		if errors.As(err, &ce) && filepath.Base(ce.File) == shell.ProjectFile {
			if st := recordedFrom(ss, ce.File); st != nil {
				fmt.Fprintf(os.Stderr, "box: %v\nbox: entering shell %s as it was made\n", err, st.Name)
				d, err, broken = &dotfile.Dotfile{Name: st.Name}, nil, true
			}
		}
	}
	if err != nil {
		return err
	}
	return c.enter(g, ss, cs, d, home, wd, cmd, broken)
}

// recordedFrom is the made shell whose dotfile is path, nil for none.
func recordedFrom(ss shell.Store, path string) *shell.State {
	names, _ := ss.List()
	for _, n := range names {
		if st, err := ss.Load(n); err == nil && st.Dotfile == path {
			return st
		}
	}
	return nil
}

// shellStores are the shells' records and the containers, without the
// orphan scan of g.containers: an enter looks at one container only.
func (g *globals) shellStores() (shell.Store, run.Containers, error) {
	root, _, err := g.storeRoot()
	if err != nil {
		return shell.Store{}, run.Containers{}, err
	}
	return shell.Store{Dir: locate.ShellsDir(root)},
		run.Containers{Root: image.ContainersDir(root), Volumes: volume.Store{Dir: image.VolumesDir(root)}}, nil
}

func (c *shellCmd) enter(g *globals, ss shell.Store, cs run.Containers, d *dotfile.Dotfile, home, wd string, cmd []string, broken bool) error {
	release, err := ss.Entered(d.Name)
	if err != nil {
		return err
	}
	defer release()
	st, ct, err := c.ready(g, ss, cs, d, home)
	if err != nil {
		return err
	}
	if st.Hash != d.Hash() {
		fmt.Fprintf(os.Stderr, "box: shell %s: its dotfile changed since it was made; box shell --rebuild %s makes it again (the home is kept)\n", st.Name, st.Name)
	} else if st.Rules != shell.DotfileRules && !broken {
		// Checked under this box's rules now: the quick enter may take it
		// (best effort: a store box cannot write to is still entered).
		recordRules(ss, st.Name, d.Hash())
	}
	session := shell.Session(st, shell.LocalHost(home), strconv.Itoa(os.Getpid()))
	stopProxy, err := forward.Proxy(ss.RunDir(st.Name), session)
	if err != nil {
		return err
	}
	defer stopProxy()
	cwd, note, err := shell.EnterDir(st, wd, c.SharedWd)
	if err != nil {
		return withStatus(125, err)
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "box: %s\n", note)
	}
	return exitAs(shell.Exec(cs.Dir(ct.ID), session, cwd, shell.Command(st, cmd)))
}

// recordRules records that shell name's dotfile, as it is (hash), passed
// this box's checks: under the shell's lock, which every other writer of
// the record holds.
func recordRules(ss shell.Store, name, hash string) error {
	unlock, err := ss.Lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := ss.Load(name)
	if err != nil || st.Hash != hash || st.Rules == shell.DotfileRules {
		return nil
	}
	st.Rules = shell.DotfileRules
	return ss.Save(st)
}

// ready returns the shell's record and its running container, making or
// starting it and running its start hooks as needed. A warm enter takes
// no lock and reads two small files.
func (c *shellCmd) ready(g *globals, ss shell.Store, cs run.Containers, d *dotfile.Dotfile, home string) (*shell.State, *run.Container, error) {
	if st, err := ss.Load(d.Name); err == nil {
		if err := collides(st, d); err != nil {
			return nil, nil, err
		}
		ct, err := cs.Lookup(shell.ContainerName(d.Name))
		if err == nil && ct.Paused {
			return nil, nil, withStatus(1, fmt.Errorf("shell %s is paused (box unpause %s)", d.Name, ct.Name))
		}
		if err == nil && ct.ID == st.Container && ct.Status == "running" && ct.Started.Equal(st.Started) {
			return st, ct, nil
		}
	}
	unlock, err := ss.LockWaiting(d.Name, func() {
		fmt.Fprintf(os.Stderr, "box: shell %s is being made, started or removed by another box shell: waiting for it\n", d.Name)
	})
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	st, err := ss.Load(d.Name)
	var ct *run.Container
	if err == nil {
		if err := collides(st, d); err != nil {
			return nil, nil, err
		}
		ct, err = cs.Lookup(shell.ContainerName(d.Name))
		if err == nil && ct.ID != st.Container {
			err = fmt.Errorf("container %s is not shell %s's: remove it (box rm) or the shell (box shell --rm %s)", ct.Name, d.Name, d.Name)
			return nil, nil, withStatus(125, err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := c.clearHalfMade(g, ss, cs, d.Name); err != nil {
			return nil, nil, err
		}
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, run.ErrNoContainer) {
		if st, ct, err = c.create(g, ss, cs, d, home); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	if ct.Status != "running" {
		if err := dropGone(ss, cs, st, ct); err != nil {
			return nil, nil, err
		}
		if err := withStatus(monitor.Start(cs, ct)); err != nil {
			return nil, nil, err
		}
		if ct, err = cs.Lookup(ct.ID); err != nil {
			return nil, nil, err
		}
	}
	if !ct.Started.Equal(st.Started) {
		if err := rootHooks(cs.Dir(ct.ID), "shell "+st.Name+": start hook $box_hook", st.Start); err != nil {
			return nil, nil, err
		}
		if err := userHooks(cs.Dir(ct.ID), "postStartCommand", st, st.UserStart); err != nil {
			return nil, nil, err
		}
		st.Started = ct.Started
		if err := ss.Save(st); err != nil {
			return nil, nil, err
		}
	}
	return st, ct, nil
}

// create makes the shell's container from its dotfile (or the defaults),
// installs its packages and runs its create hooks. A shell whose
// creation failed is removed, so that the next enter tries again.
func (c *shellCmd) create(g *globals, ss shell.Store, cs run.Containers, d *dotfile.Dotfile, home string) (*shell.State, *run.Container, error) {
	sf := d.File
	if sf == nil {
		sf = &config.ShellFile{Share: maps.Clone(config.ShareKeys)}
	}
	img, err := shellImage(g, sf)
	if err != nil {
		return nil, nil, err
	}
	hostname := sf.Hostname
	if hostname == "" {
		hostname = shell.Hostname(d.Name)
	}
	login := sf.Shell
	if login == "" {
		login = loginShell()
	}
	volumes := sf.Volumes
	workspace, wsVolume := dotfile.Workspace(sf, home)
	if wsVolume != "" {
		volumes = append(slices.Clip(volumes), wsVolume)
	}
	mounts := shell.Mounts(sf.Share, volumes, ss.RunDir(d.Name), shell.LocalHost(home))
	if err := os.MkdirAll(shell.X11RunDir(ss.RunDir(d.Name)), 0o755); err != nil {
		return nil, nil, err
	}
	if slices.ContainsFunc(slices.Collect(maps.Values(sf.Env)), func(v string) bool { return strings.Contains(v, "${containerEnv:") }) && sf.Build == nil {
		// remoteEnv's "${containerEnv:PATH}:/more": the image's PATH.
		ist, err := g.openStore()
		if err != nil {
			return nil, nil, err
		}
		i, ist, err := (&runCmd{Pull: "missing"}).image(g, ist, img)
		if err != nil {
			return nil, nil, err
		}
		cfg, err := ist.ImageConfig(i)
		if err != nil {
			return nil, nil, err
		}
		imgEnv := cfg.Config.Env
		if !slices.ContainsFunc(imgEnv, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
			imgEnv = append(slices.Clip(imgEnv), "PATH="+run.DefaultPath) // what the container gets
		}
		resolved := maps.Clone(sf.Env)
		for k, v := range resolved {
			resolved[k] = shell.ExpandContainerEnv(v, imgEnv)
		}
		sfCopy := *sf
		sfCopy.Env = resolved
		sf = &sfCopy
	}
	var env []string
	for k, v := range sf.Env {
		env = append(env, k+"="+v)
	}
	rc := &runCmd{
		Detach: true, Name: shell.ContainerName(d.Name), Userns: "keep-id", Hostname: hostname,
		Network: "host", Pull: "missing", Volume: shell.Volumes(mounts), Env: env,
		Entrypoint: optional{set: true}, Args: []string{img, "/bin/sh", "-c", keepAlive},
		userHome: home, userShell: login, userName: sf.User, passwdInPlace: true,
	}
	if sf.Share["gpu"] {
		// The GPUs of the CDI specs (nvidia.com/gpu=all), as --gpus all.
		rc.GPUs = "all"
	}
	if b := sf.Build; b != nil {
		fmt.Fprintf(os.Stderr, "box: building shell %s's image from %s\n", d.Name, b.Dockerfile)
		bc := &buildCmd{Tag: []string{img}, File: b.Dockerfile, Context: b.Context, Target: b.Target, Network: "slirp", out: os.Stderr}
		for _, k := range slices.Sorted(maps.Keys(b.Args)) {
			bc.BuildArg = append(bc.BuildArg, k+"="+b.Args[k])
		}
		if _, err := bc.build(g); err != nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(os.Stderr, "box: making shell %s from %s\n", d.Name, img)
	spec, ct, _, err := rc.prepare(g)
	if rc.release != nil {
		defer rc.release()
	}
	if err != nil {
		return nil, nil, withStatus(125, err)
	}
	spec.Exec = true
	spec.Spawner = true // a shell's enters start sooner (package pid1)
	mc := &monitor.Config{Spec: *spec, Container: *ct, StoreRoot: rc.storeRoot, LayerStore: rc.layerStore, Layers: rc.layers, Net: rc.netCfg}
	if err := withStatus(monitor.Detach(mc)); err != nil {
		return nil, nil, err
	}
	st := &shell.State{
		Name: d.Name, Container: ct.ID, Image: img, Dotfile: d.Path(), Hash: d.Hash(),
		Created: time.Now().UTC(), Home: home, Shell: "/bin/sh", Mounts: mounts, Share: sf.Share, Rules: shell.DotfileRules,
		Env: sf.Env, Start: sf.Start, Enter: sf.Enter,
		Workspace: workspace, UserStart: sf.UserStart, User: sf.User,
	}
	fail := func(err error) (*shell.State, *run.Container, error) {
		if cur, lerr := cs.Lookup(ct.ID); lerr == nil {
			m, _ := g.idMapping()
			cs.ForceRemove(cur, stage.Remover(m))
		}
		return nil, nil, err
	}
	dir := cs.Dir(ct.ID)
	if len(sf.Packages) > 0 {
		if err := rootHooks(dir, "shell "+st.Name+": installing its packages", []string{shell.InstallScript(sf.Packages)}); err != nil {
			return fail(err)
		}
	}
	if err := rootHooks(dir, "shell "+st.Name+": create hook $box_hook", sf.Create); err != nil {
		return fail(err)
	}
	// The login shell, if the image (or a package) has it.
	if login != "" && login != st.Shell {
		if status, _ := pid1.Exec(dir, pid1.ExecOptions{Request: proto.ExecRequest{Args: []string{"/bin/sh", "-c", `test -x "$1"`, "sh", login}, User: "0:0", Cwd: "/"}, Stdin: devNull(), Stdout: os.Stderr, Stderr: os.Stderr}); status == 0 {
			st.Shell = login
			// init wrote the user's passwd entry when the container
			// started, with sh if packages or create hooks brought the
			// shell only since: name it now (the bound file rewritten in
			// place; the next start writes it so itself). Best effort: an
			// image without awk keeps sh there, $SHELL is right anyway.
			pid1.Exec(dir, pid1.ExecOptions{Request: proto.ExecRequest{Args: []string{"/bin/sh", "-c", loginShellFix, "sh", strconv.Itoa(os.Getuid()), login}, User: "0:0", Cwd: "/"},
				Stdin: devNull(), Stdout: os.Stderr, Stderr: os.Stderr})
		} else if sf.Shell != "" {
			// The dotfile's own choice, not the host's: say why it is not taken.
			fmt.Fprintf(os.Stderr, "box: shell %s: %s is not in the image (its package in packages installs it); enters run %s\n", d.Name, login, st.Shell)
		}
	}
	// Whether TZ can name the host's zone (see shell.Session).
	status, _ := pid1.Exec(dir, pid1.ExecOptions{Request: proto.ExecRequest{Args: []string{"/bin/sh", "-c", "test -d /usr/share/zoneinfo"}, User: "0:0", Cwd: "/"}, Stdin: devNull(), Stdout: os.Stderr, Stderr: os.Stderr})
	st.Zoneinfo = new(status == 0)
	for _, h := range []struct {
		what  string
		hooks [][]string
	}{{"onCreateCommand", sf.UserOnCreate}, {"updateContentCommand", sf.UserUpdate}, {"postCreateCommand", sf.UserCreate}} {
		if err := userHooks(dir, h.what, st, h.hooks); err != nil {
			return fail(err)
		}
	}
	if err := ss.Save(st); err != nil {
		return fail(err)
	}
	if ct, err = cs.Lookup(ct.ID); err != nil {
		return nil, nil, err
	}
	return st, ct, nil
}

// dropGone lets a stopped shell start without what its session shared
// and the host no longer has (a runtime directory after a reboot, X11's
// sockets from an ssh login): the mounts go from its record and its
// container's, with a note. X11's directory is replaced by the run
// directory's stand-in instead, which the enters forward displays into.
func dropGone(ss shell.Store, cs run.Containers, st *shell.State, ct *run.Container) error {
	kept, gone, moved := shell.DropGone(st.Mounts, func(p string) bool { _, err := os.Stat(p); return err == nil }, ss.RunDir(st.Name))
	if len(gone) == 0 && len(moved) == 0 {
		return nil
	}
	if len(gone) > 0 {
		fmt.Fprintf(os.Stderr, "box: shell %s: %s no longer on this host; starting without (box shell --rebuild %s shares what there is now)\n", st.Name, strings.Join(gone, ", "), st.Name)
	}
	for _, src := range moved {
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
	}
	fix := func(ms []proto.Mount) []proto.Mount {
		ms = slices.DeleteFunc(ms, func(m proto.Mount) bool { return m.Type == "bind" && slices.Contains(gone, m.Source) })
		for i, m := range ms {
			if src, ok := moved[m.Target]; ok && m.Type == "bind" && m.Source == m.Target {
				ms[i].Source = src
			}
		}
		return ms
	}
	ct.Mounts = fix(ct.Mounts)
	if err := cs.Save(ct); err != nil {
		return err
	}
	// And from what box start starts it with.
	mc, err := monitor.Load(cs, ct)
	if err != nil {
		return err
	}
	mc.Spec.Mounts = fix(mc.Spec.Mounts)
	if err := mc.Persist(cs.Dir(ct.ID)); err != nil {
		return err
	}
	st.Mounts = kept
	return ss.Save(st)
}

// isShellContainer tells a shell's container (its workload keepAlive) from
// another that took its name.
func isShellContainer(ct *run.Container) bool {
	return slices.Equal(ct.Command, []string{"/bin/sh", "-c", keepAlive})
}

// collides refuses to enter shell st through another dotfile than the one
// it was made from: two projects both called "app", or a project's
// box.toml and ~/.config/box/shells/app.toml, would otherwise share one
// container and each call the other's dotfile changed. A shell made
// without a dotfile (box shell NAME) takes a NAME.toml written since (it
// is changed, and --rebuild makes it from the file), but not a project's
// box.toml or devcontainer.json, which --rebuild NAME could not find.
func collides(st *shell.State, d *dotfile.Dotfile) error {
	switch {
	case d.Path() == "" || st.Dotfile == d.Path():
		return nil
	case st.Dotfile == "" && !d.Project:
		return nil
	}
	made := st.Dotfile
	if made == "" {
		made = "no dotfile (box's defaults)"
	}
	return withStatus(125, fmt.Errorf("shell %s was made from %s, not %s: give one of them another name (name = \"...\" in a box.toml), or remove the shell (box shell --rm %s)", st.Name, made, d.Path(), st.Name))
}

// clearHalfMade removes the container of a shell that has none recorded:
// one whose creation was cut short (^C while pulling, a killed box). The
// record is written last and under the shell's lock, which the caller
// holds, so no other box is still making it.
func (c *shellCmd) clearHalfMade(g *globals, ss shell.Store, cs run.Containers, name string) error {
	ct, err := cs.Lookup(shell.ContainerName(name))
	if errors.Is(err, run.ErrNoContainer) {
		return nil
	}
	if err != nil {
		return err
	}
	if !isShellContainer(ct) {
		return withStatus(125, fmt.Errorf("container %s is not shell %s's: remove it (box rm %s) or name the shell otherwise", ct.Name, name, ct.Name))
	}
	fmt.Fprintf(os.Stderr, "box: removing shell %s's half-made container (its making was interrupted)\n", name)
	m, err := g.idMapping()
	if err != nil {
		return err
	}
	return cs.ForceRemove(ct, stage.Remover(m))
}

// shellImage is the image a shell is made from: its dotfile's, else the
// config's [shell] image, else the host's distribution's.
func shellImage(g *globals, sf *config.ShellFile) (string, error) {
	if sf != nil && sf.Image != "" {
		return sf.Image, nil
	}
	conf, err := g.config()
	if err != nil {
		return "", err
	}
	if conf.Shell.Image != "" {
		return conf.Shell.Image, nil
	}
	osr, _ := os.ReadFile("/etc/os-release")
	return shell.DefaultImage(osr), nil
}

// rebuild makes a shell again: a new container from its dotfile's image,
// with packages and create hooks run again; the home is the host's and
// nothing of it changes.
func (c *shellCmd) rebuild(g *globals, name string) error {
	if err := shell.CheckName(name); err != nil {
		return err
	}
	home, err := locate.Home()
	if err != nil {
		return err
	}
	ss, cs, err := g.shellStores()
	if err != nil {
		return err
	}
	// A project's shell: its dotfile is the one it was made from.
	st, err := ss.Load(name)
	if errors.Is(err, fs.ErrNotExist) {
		return withStatus(1, fmt.Errorf("no such shell: %s (box shell %s makes it)", name, name))
	}
	d, err := dotfile.Recorded(name, st, shell.ConfigDir(home))
	if err != nil {
		return err
	}
	// In use: say so before a pull that would be for nothing (the claim
	// itself comes after it, so that enters wait no longer than the
	// container's removal).
	free, err := c.claim(ss, name)
	if err != nil {
		return err
	}
	free()
	// Its image first, as the registry has it now (a tag moved to a newer
	// image is the point of a rebuild); the one here when the registry
	// cannot be reached, with a note. A pull that fails with no image
	// here leaves the old shell as it is.
	if d.File == nil || d.File.Build == nil {
		ref, err := shellImage(g, d.File)
		if err != nil {
			return err
		}
		ist, err := g.openStore()
		if err != nil {
			return err
		}
		if _, _, err := (&runCmd{Pull: "always"}).image(g, ist, ref); err != nil {
			if _, _, lerr := (&runCmd{Pull: "never"}).image(g, ist, ref); lerr != nil {
				return withStatus(125, fmt.Errorf("shell %s is left as it was: %w", name, err))
			}
			fmt.Fprintf(os.Stderr, "box: could not look for a newer %s (%v); making shell %s from the one here\n", ref, err, name)
		}
	}
	release, err := c.claim(ss, name)
	if err != nil {
		return err
	}
	defer release()
	if err := c.remove(g, ss, cs, name, false); err != nil {
		return err
	}
	if _, _, err := c.ready(g, ss, cs, d, home); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "box: shell %s made again\n", name)
	return nil
}

// stop stops a shell's container, and with rm removes it and the record.
func (c *shellCmd) stop(g *globals, name string, rm bool) error {
	if err := shell.CheckName(name); err != nil {
		return err
	}
	ss, cs, err := g.shellStores()
	if err != nil {
		return err
	}
	if _, err := ss.Load(name); errors.Is(err, fs.ErrNotExist) {
		if rm {
			// A half-made one (see clearHalfMade) has a container only.
			if ct, err := cs.Lookup(shell.ContainerName(name)); err == nil && isShellContainer(ct) {
				unlock, err := ss.Lock(name)
				if err != nil {
					return err
				}
				defer unlock()
				return c.clearHalfMade(g, ss, cs, name)
			}
		}
		return withStatus(1, fmt.Errorf("no such shell: %s", name))
	}
	release, err := c.claim(ss, name)
	if err != nil {
		return err
	}
	defer release()
	if rm {
		return c.remove(g, ss, cs, name, true)
	}
	unlock, err := ss.Lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	ct, err := cs.Lookup(shell.ContainerName(name))
	if errors.Is(err, run.ErrNoContainer) {
		return nil
	}
	if err != nil {
		return err
	}
	return cs.Stop(ct, 10*time.Second)
}

// claim refuses to stop, remove or remake a shell a terminal is in
// (unless --force), as toolbox rm refuses a running container: that would
// end the session, and whatever runs in it, without a word. Until release,
// new enters wait.
func (c *shellCmd) claim(ss shell.Store, name string) (release func(), err error) {
	if c.Force {
		return func() {}, nil
	}
	release, busy, err := ss.Claim(name)
	if err != nil || !busy {
		return release, err
	}
	return nil, withStatus(1, fmt.Errorf("shell %s is in use: a terminal or an exported command is in it; end that first, or add --force to end its session", name))
}

// remove removes the shell's container and record (all of its directory
// with forget, the record only otherwise).
func (c *shellCmd) remove(g *globals, ss shell.Store, cs run.Containers, name string, forget bool) error {
	unlock, err := ss.Lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	st, _ := ss.Load(name)
	if ct, err := cs.Lookup(shell.ContainerName(name)); err == nil && (st == nil || ct.ID == st.Container) {
		m, err := g.idMapping()
		if err != nil {
			return err
		}
		if err := cs.ForceRemove(ct, stage.Remover(m)); err != nil {
			return err
		}
	}
	if forget {
		return ss.Remove(name)
	}
	err = os.Remove(filepath.Join(ss.ShellDir(name), "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// list prints each shell: its name, its container's status, image and dotfile.
func (c *shellCmd) list(g *globals) error {
	ss, cs, err := g.shellStores()
	if err != nil {
		return err
	}
	names, err := ss.List()
	if err != nil {
		return err
	}
	fmt.Printf("%-16s %-10s %-30s %s\n", "NAME", "STATUS", "IMAGE", "DOTFILE")
	for _, n := range names {
		st, err := ss.Load(n)
		if err != nil {
			continue
		}
		status := "missing"
		if ct, err := cs.Lookup(shell.ContainerName(n)); err == nil && ct.ID == st.Container {
			status = ct.Status
		}
		df := st.Dotfile
		if df == "" {
			df = "-"
		} else if b, err := os.ReadFile(df); err != nil || config.HashOf(b) != st.Hash {
			df += " (changed)"
		}
		fmt.Printf("%-16s %-10s %-30s %s\n", n, status, st.Image, df)
	}
	return nil
}
