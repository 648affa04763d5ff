# bench/benchstats.py — what the benchmark summaries share (start.sh and
# exec.sh import it with PYTHONPATH=bench): quantiles, the machine section,
# the timed runs that bench/timer.py appends to RES/runs.tsv, their table,
# the load during them, and the A/B table of two box binaries.
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


def print_runs(by, cpu, users, order, what="tool", label=None):
    """Prints the table of the timed runs: for each user and each tool in
    ORDER that ran (LABEL[tool], if given, names it in the table), the runs,
    median, p10, p90, min and median CPU. Returns the medians, keyed by
    (user, tool)."""
    print(f"| user | {what} | runs | median | p10 | p90 | min | median CPU (user+sys) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    M = {}
    for u in users:
        for t in order:
            w = by.get((u, t))
            if not w:
                continue
            M[(u, t)] = med(w)
            name = label[t] if label else t
            print(f"| {u} | {name} | {len(w)} | **{med(w):.2f}** | {q(w, .1):.2f} | {q(w, .9):.2f} | {min(w):.2f} | {med(cpu[(u, t)]):.2f} |")
    print()
    return M


def print_load(res):
    """Prints the load average of RES/load.txt, the timed rounds'."""
    loads = [float(l.split()[1]) for l in open(f"{res}/load.txt") if not l.startswith("-")]
    print(f"1-minute load average during the timed rounds (2 = both cores busy): median {med(loads):.2f}, max {max(loads):.2f}.\n")


def print_ab(res, users, order, title, what="tool"):
    """Prints the A/B section: for each user and each tool T in ORDER, the
    medians of T (box A) and T@B (box B) in RES/runs.tsv, their ratio, and
    the median of B − A over the rounds, in each of which both ran."""
    rows = [l.rstrip("\n").split("\t") for l in open(f"{res}/runs.tsv")][1:]
    wall, cpu = collections.defaultdict(dict), collections.defaultdict(dict)
    for r in rows:
        wall[(r[1], r[2])][r[0]] = float(r[3])
        cpu[(r[1], r[2])][r[0]] = float(r[4])
    print(f"## {title}\n")
    print(f"A is `box` in the machine section above, B `box_b`; B / A above 1 means B is slower. "
          f"Every round ran each {what} with both (the order: A/B in the script's header).\n")
    print(f"| user | {what} | runs | A median | B median | B / A | median of B − A in a round | A median CPU | B median CPU |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for u in users:
        for t in order:
            a, b = wall.get((u, t)), wall.get((u, t + "@B"))
            if not a or not b:
                continue
            d = [b[k] - a[k] for k in a if k in b]
            ma, mb = med(list(a.values())), med(list(b.values()))
            print(f"| {u} | {t} | {len(a)} | {ma:.2f} | {mb:.2f} | **{mb / ma:.3f}** | {med(d):+.2f} | "
                  f"{med(list(cpu[(u, t)].values())):.2f} | {med(list(cpu[(u, t + '@B')].values())):.2f} |")
    print()
