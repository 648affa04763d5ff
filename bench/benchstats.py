# bench/benchstats.py — what the benchmark summaries share (start.sh and
# exec.sh import it with PYTHONPATH=bench): quantiles, the machine section,
# and the timed runs that bench/timer.py appends to RES/runs.tsv.
import collections, statistics


def q(xs, p):
    """The p-quantile of xs, interpolated between the closest ranks."""
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p
    i = int(k)
    return xs[i] + (xs[min(i + 1, len(xs) - 1)] - xs[i]) * (k - i)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def print_machine(res):
    """Prints RES/machine.txt (KEY=VALUE lines) as the summary's first section."""
    machine = dict(l.rstrip("\n").split("=", 1) for l in open(f"{res}/machine.txt") if "=" in l)
    print("## Machine and versions\n")
    for k, v in machine.items():
        print(f"- {k}: {v}")
    print()


def load_runs(res):
    """Wall and CPU ms of RES/runs.tsv, each keyed by (user, tool)."""
    rows = [l.rstrip("\n").split("\t") for l in open(f"{res}/runs.tsv")][1:]
    by, cpu = collections.defaultdict(list), collections.defaultdict(list)
    for r in rows:
        by[(r[1], r[2])].append(float(r[3]))
        cpu[(r[1], r[2])].append(float(r[4]))
    return by, cpu
