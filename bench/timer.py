# timer.py CMDS OUT ROUND USER ROTATE ERRDIR [COUNT]: COUNT rounds (default
# 1), numbered from ROUND; each is one run of every command in CMDS (JSON
# lines [name, argv...]) in order, rotated by ROTATE in the first round and
# by one more in each next. Appends "round user tool wall_ms cpu_ms" lines
# to OUT when all are done. Exits 1 on any failure. BENCH_SETTLE_MS (in the
# environment, default 0) is a pause before each run, not timed, so that each
# starts on a quiet machine: what a run leaves working behind it (podman's
# exec cleanup) then slows no other run.
import json, os, sys, time
cmds_file, out, rnd, user, rot, errdir, *count = sys.argv[1:]
cmds = [json.loads(l) for l in open(cmds_file) if l.strip()]
env = dict(os.environ)
settle = float(env.pop("BENCH_SETTLE_MS", "0") or 0) / 1000
devnull = os.open("/dev/null", os.O_RDWR)
rows = []
for i in range(int(count[0]) if count else 1):
    r = int(rnd) + i
    k = (int(rot) + i) % len(cmds)
    for name, *argv in cmds[k:] + cmds[:k]:
        errpath = os.path.join(errdir, f"err.{user}.{name}")
        err = os.open(errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if settle:
            time.sleep(settle)
        fa = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=fa)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        os.close(err)
        if status != 0:
            sys.stderr.write(f"{name} as {user} failed in round {r} (wait status {status:#x}): {' '.join(argv)}\n")
            sys.stderr.write(open(errpath).read()[-2000:])
            sys.exit(1)
        rows.append(f"{r}\t{user}\t{name}\t{(t1 - t0) / 1e6:.3f}\t{(ru.ru_utime + ru.ru_stime) * 1e3:.3f}\n")
with open(out, "a") as f:
    f.writelines(rows)
