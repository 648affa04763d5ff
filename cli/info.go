package cli

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/box-run/box/device"
	"github.com/box-run/box/image"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/run"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

type infoCmd struct{}

// Run reports each capability box relies on, what it will use, and a one-line
// fix for what is missing. It probes for real (a user namespace, an overlay
// mount on the store's filesystem) rather than guessing from versions.
func (infoCmd) Run(g *globals) error {
	var uts unix.Utsname
	unix.Uname(&uts)
	fmt.Printf("box:        %s\n", versionString())
	fmt.Printf("kernel:     %s\n", unix.ByteSliceToString(uts.Release[:]))

	c, err := g.config()
	if err != nil {
		return err
	}
	if len(c.Files) == 0 {
		fmt.Printf("config:     none (defaults)\n")
	} else {
		fmt.Printf("config:     %s\n", strings.Join(c.Files, ", "))
	}

	m, reason, err := userns.Detect()
	if err != nil {
		return err
	}
	usernsErr := stage.ProbeUserns(m)
	if usernsErr != nil {
		fmt.Printf("userns:     unavailable: %v\n            fix: %s\n", usernsErr, usernsFix())
	} else {
		fmt.Printf("userns:     yes\n")
	}
	fmt.Printf("id mapping: %s\n", m.String())
	if reason != "" {
		fmt.Printf("            %s\n", reason)
	}

	root, note, err := g.storeRoot()
	if err != nil {
		return err
	}
	fs, remote := locate.FSType(root)
	fmt.Printf("store:      %s (%s)\n", root, fs)
	fmt.Printf("            %s\n", storeWhy(g, c.Storage.Root, c.Files, note))
	if note == "" && remote {
		fmt.Printf("            %s is a network filesystem: containers' files need local disk; fix: set [storage] root to a local path\n", fs)
	}

	if usernsErr == nil {
		if err := stage.ProbeOverlay(m, root); err != nil {
			fmt.Printf("overlay:    kernel overlay unavailable: %v\n", err)
		} else {
			fmt.Printf("overlay:    kernel (overlayfs with userxattr in a user namespace)\n")
		}
	}
	mode := c.Storage.Overlay
	if b, err := os.ReadFile(image.OverlayCacheFile(root)); err == nil && mode == "auto" {
		mode += ", chose " + strings.Fields(string(b) + " ?")[0] + " at the first run"
	}
	fmt.Printf("            layer stacking: %s ([storage] overlay = auto|kernel|fuse|copy)\n", mode)
	fmt.Printf("fuse:       %s\n", fuseStatus())
	if shared, err := g.sharedStores(); err == nil && len(shared) > 0 {
		var roots []string
		for _, st := range shared {
			roots = append(roots, st.Root())
		}
		fmt.Printf("shared:     %s (read-only image stores)\n", strings.Join(roots, ", "))
		for _, r := range roots {
			// The README asks for nosuid: without it, an image's setuid
			// programs in the store run as their owner on the host.
			var sfs unix.Statfs_t
			if err := unix.Statfs(r, &sfs); err == nil && sfs.Flags&unix.ST_NOSUID == 0 {
				fmt.Printf("            shared store %s is not mounted nosuid: its images' setuid programs run as their owners outside any container; fix: its admin mounts it nosuid\n", r)
			}
		}
	}
	cdiDirs := device.SpecDirs(c.CDI.SpecDirs, nil)
	if job := os.Getenv("SLURM_JOB_ID"); job != "" {
		fmt.Printf("job:        %s\n", slurmJob(job))
		for _, l := range jobDetails(cdiDirs) {
			fmt.Printf("            %s\n", l)
		}
	}
	fmt.Printf("limits:     %s\n", limitsStatus())
	net := slirp.DefaultConfig()
	fmt.Printf("network:    slirp (user-mode, in-process; %s/%d, gateway and DNS %s)\n", net.Container, net.Subnet.Bits(), net.Gateway)
	if slirp.PingAllowed() {
		fmt.Printf("ping:       forwarded from containers (net.ipv4.ping_group_range allows your group)\n")
	} else {
		r, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
		fmt.Printf("ping:       not forwarded: net.ipv4.ping_group_range (%s) excludes gid %d; fix: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\" (as root)\n", strings.Join(strings.Fields(string(r)), " "), os.Getgid())
	}
	devs, problems := device.List(cdiDirs)
	if len(devs) == 0 {
		fmt.Printf("cdi:        none (no usable specs in %s)\n", strings.Join(cdiDirs, ", "))
	} else {
		fmt.Printf("cdi:        %s\n", strings.Join(devs, ", "))
	}
	for _, p := range problems {
		fmt.Printf("            %s\n", p)
	}
	return nil
}

// limitsStatus says which resource limits box run can apply here, and,
// for those it cannot, what is missing with the fix.
func limitsStatus() string {
	allowed, where, err := run.HostLimits()
	switch {
	case len(allowed) == 0:
		return "--ulimit only; --memory, --cpus and --pids-limit need a cgroup v2 subtree delegated to you: " + err.Error()
	case err != nil:
		return fmt.Sprintf("--ulimit, %s (cgroup v2 subtree %s); not the others: %v", strings.Join(allowed, ", "), where, err)
	}
	return fmt.Sprintf("--ulimit, %s (cgroup v2 subtree %s)", strings.Join(allowed, ", "), where)
}

func usernsFix() string {
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return "sysctl -w kernel.unprivileged_userns_clone=1 (as root)"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && strings.TrimSpace(string(b)) == "1" {
		return "AppArmor restricts user namespaces: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for box"
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return "sysctl -w user.max_user_namespaces=15000 (as root)"
	}
	return "ask an admin to enable unprivileged user namespaces"
}

func fuseStatus() string {
	path, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return "fuse-overlayfs not on PATH (only needed where kernel overlay is unavailable; fix: install fuse-overlayfs)"
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Sprintf("%s found, but /dev/fuse: %v (fix: chmod 0666 /dev/fuse as root)", path, err)
	}
	f.Close()
	return path + " and /dev/fuse usable"
}

// slurmJob describes the Slurm job box runs in, and what box does there.
func slurmJob(id string) string {
	s := "Slurm job " + id
	if step := os.Getenv("SLURM_STEP_ID"); step != "" {
		s += ", step " + step
	}
	if node := os.Getenv("SLURMD_NODENAME"); node != "" {
		s += ", node " + node
	}
	if run.JobAnchor() == nil {
		return s + "; no slurmstepd above box: detached containers are not tied to the job"
	}
	return s + "; containers end with the job (see README), ranks take --mpi"
}

// storeWhy says why the store is where it is: who set it, or why the
// default moved (note), or that it is the default.
func storeWhy(g *globals, configured string, files []string, note string) string {
	switch {
	case g.Root != "" && os.Getenv("BOX_ROOT") == g.Root:
		return "set by BOX_ROOT"
	case g.Root != "":
		return "set by --root"
	case configured != "":
		return "set by [storage] root in " + strings.Join(files, ", ")
	case note != "":
		return note
	}
	return "the default ($XDG_DATA_HOME/box, else ~/.local/share/box), on a local filesystem where overlay can keep container files"
}

// jobDetails describes what box finds in the Slurm job it runs in: how
// Slurm tracks and ends the step, whether box forwards signals, the MPI
// launcher's variables and the GPUs the job may use.
func jobDetails(cdiDirs []string) []string {
	var out []string
	conf := run.ReadSlurmConf(true)
	if conf.Source == "" {
		out = append(out, "tracking: unknown (no slurm.conf readable and scontrol did not answer)")
	} else {
		kw := "KillWait unknown"
		if d, ok := conf.KillWait(); ok {
			kw = fmt.Sprintf("KillWait %d s", int(d.Seconds()))
		}
		out = append(out, fmt.Sprintf("tracking: %s, %s (from %s)", conf.ProctrackType(), kw, conf.Source))
	}
	if run.ForwardsSignals() {
		out = append(out, "signals:  box forwards the signals it gets to the container (Slurm signals only the tasks it started)")
	} else {
		out = append(out, "signals:  Slurm signals every process of the step, the container's included: box forwards every signal but slurmstepd's")
	}
	var pmi []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PMI_") || strings.HasPrefix(k, "PMIX_") {
			pmi = append(pmi, k)
		}
	}
	sort.Strings(pmi)
	if len(pmi) == 0 {
		out = append(out, "pmi:      none (no PMI_* or PMIX_* variables: srun --mpi=pmi2 or pmix sets them; box run --mpi passes them)")
	} else {
		out = append(out, "pmi:      "+strings.Join(pmi, ", ")+" (box run --mpi passes them)")
	}
	out = append(out, "gpus:     "+device.VisibleGPUs(cdiDirs, os.LookupEnv))
	return out
}
