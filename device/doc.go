// Package device turns box run's --device and --gpus into what the
// container's init applies: host device nodes to bind, bind mounts,
// environment variables and createContainer hooks (package proto's Spec).
//
// # CDI
//
// A --device that is a qualified name (vendor.com/class=name, as
// nvidia.com/gpu=0) names a device of a Container Device Interface spec
// (tags.cncf.io/container-device-interface) in the spec directories:
// /etc/cdi and /var/run/cdi, or [cdi] spec_dirs in box's config, or
// BOX_CDI_SPEC_DIRS (colon-separated). Box reads the specs itself, as the
// CDI library's cache does (*.json and *.yaml files, a later directory
// winning for a device defined twice, the library's checks and wording),
// and uses only the library's spec types (specs-go) and name parser
// (pkg/parser), which have no initialisers to speak of. Its pkg/cdi
// linked go.yaml.in/yaml/v3 and a validation package that compile regular
// expressions and build tables at start: 0.47 ms of initialisers (median
// of 150 runs) in every box process, the CLI of run and exec included,
// though few runs ask for a device. So the YAML reader here (yaml.go) is
// box's own, for the subset specs are written in: block and flow
// collections, plain and quoted scalars, comments, and JSON; anchors,
// tags, block scalars and multi-line scalars are refused with the line.
// A test checks it against yaml/v3 on specs as nvidia-ctk writes them.
// Box applies the edits itself, because its Spec is not an OCI runtime
// spec and a rootless box cannot apply some of them as an OCI runtime
// would:
//   - deviceNodes are the host's nodes (hostPath, or path) bound at path,
//     as rootless podman does: an unprivileged user namespace cannot
//     mknod. Their owner and mode stay the host's (a spec's fileMode,
//     uid and gid are not applied), and permissions other than rw(m)
//     are refused: without a device cgroup nothing can narrow them. A
//     node missing on the host is an error.
//   - mounts are bind mounts, with ro, nosuid, nodev and noexec.
//   - env entries replace the image's variables of the same name.
//   - createContainer hooks run in init, as the OCI spec runs them (see
//     package pid1); the other kinds (prestart, createRuntime,
//     startContainer, poststart, poststop) are refused, naming the hook,
//     since box does not run them.
//   - additionalGids are groups the caller must already be in on the host:
//     a user namespace cannot add groups, but the caller's own groups
//     still open the nodes. netDevices and intelRdt are refused.
//
// # GPUs
//
// --gpus takes docker's values (all, a count, device=0,1, count=N,
// driver=nvidia) and asks for the nvidia.com/gpu devices they name.
// NVIDIA_VISIBLE_DEVICES, or else CUDA_VISIBLE_DEVICES, in box's own
// environment limits which of them a container may get: under Slurm
// these say which GPUs the job was given, so --gpus all (or
// nvidia.com/gpu=all) gives those, a count takes the first of them, and
// naming another GPU is an error. Their entries are CDI device names
// (indices or UUIDs, as the spec names them); "all" limits nothing, and
// "", none, void and NoDevFiles mean no GPU. nvidia-container-toolkit
// reads NVIDIA_VISIBLE_DEVICES in the container's environment instead;
// box does not pass either variable into the container (-e does), where
// an index would count among the GPUs the container sees.
//
// Plain --device /dev/X[:/dev/Y[:PERMS]] binds a host device node, as
// docker's flag (a directory of devices is not supported).
package device
