// Package shell is box shell's domain: a persistent, keep-id container per
// shell that feels like the host. It finds a shell's dotfile (Find; a
// project's devcontainer.json, FindDevContainer; the one a named shell was
// made from, Recorded), picks an image when none is named (DefaultImage),
// writes the package manager's command line (InstallScript), keeps a
// shell's record (State, with its lock), decides what of the host a new
// shell shares (Mounts, Workspace) and what each enter brings from the
// caller's session (Session), forwards session sockets that the container
// cannot see (Proxy), and writes and removes the host's scripts and
// desktop entries that start a shell's commands (exports). Parsing the
// dotfiles is package config's; making, starting and entering the
// container is the CLI's work with packages run, monitor and pid1.
//
// # Passwd without chown
//
// A shell is a --userns=keep-id container whose init writes the user's
// entries (home and login shell as on the host) into the container's own
// passwd and group at each start (proto.Spec.PasswdInPlace): the kernel
// copies the two files up, so creation changes the owner of no image file
// and takes the same time for any image size, and a package whose install
// adds a system user later (useradd renames a new file over /etc/passwd)
// can, which a file bound over the image's would refuse.
//
// # Session sockets
//
// A bind mount pins the file it was made from: a socket bound at creation
// goes stale when its server restarts, and a path that did not exist at
// creation cannot be added to a running container. So a shell shares
// directories, not sockets: the home, $XDG_RUNTIME_DIR (Wayland, PipeWire,
// PulseAudio, the D-Bus session bus), /tmp/.X11-unix, /dev/dri. What each
// enter takes from the caller (TERM, DISPLAY, WAYLAND_DISPLAY, …) is passed
// as its environment. A socket outside every shared directory (an ssh
// agent in /tmp/ssh-XXXX, a D-Bus bus elsewhere) is reached through a
// proxy: the enter process listens on a socket in the shell's run
// directory, which every shell has at /run/box-shell, and splices each
// connection to the caller's socket for as long as that enter lasts.
// X11 has its own rules (its cookies are by hostname, and a server may
// start after the shell was made): see x11.go.
//
// # devcontainer.json
//
// A devcontainer.json describes a container for an IDE to attach to; box
// makes it a shell. Its lifecycle commands run as the user, as the spec
// says, where box.toml's create and start hooks run as root. Without a
// workspaceFolder the project stays at its own path (the spec's default,
// /workspaces/NAME, would make a shell's paths differ from the host's,
// which box shell avoids); with one, the project is bound there too.
package shell
