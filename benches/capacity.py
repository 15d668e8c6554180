#!/usr/bin/env python3
"""The capacity model of a TicketClub fleet (issue 14, item 4). Python 3, standard library only.

Three commands:

  capacity.py derive DIR > benches/capacity.json
      Reads the reports of `benches/capacity-runs.sh DIR` (join storms, a seat rush and fleet runs
      with `--engine-pids`) and writes the measured costs: CPU microseconds of the server, Redis and
      MariaDB per join (app and legacy), per seat click, per admission and per waiting app client
      per second; memory per connection; the fleet runs' own figures for the check.

  capacity.py table [--costs FILE] [--redis-cores R] [--mysql-cores M] [--ram-gib G] ...
      Prints, for k instances x c cores each beside a Redis of R cores and a MariaDB of M cores,
      what the fleet can hold: joins/s, people waiting (at a given admission rate) and seat
      clicks/s, each with the component that saturates first. `--svg FILE` draws it.

  capacity.py check [--costs FILE]
      Compares the model's prediction for this box (every process on the same 2 cores) with the
      fleet runs measured on it.

The model is linear: a component saturates when the work asked of it, in CPU-microseconds per
second, reaches its cores x 1,000,000. Redis runs its scripts on one thread, so its ceiling is one
core whatever R is. Beside CPU, an instance holds at most (open-file limit - reserve) connections
(20,000 - 256 here) and (its RAM - its base) / memory per connection. No queueing, no network, no
contention: the figures are ceilings, and the check says how far a real box falls short of them.
"""

import argparse
import glob
import json
import os
import sys

COMPONENTS = ("server", "redis", "mariadb")
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# derive: the measured costs from the reports


def _load(dir_, pattern):
    found = sorted(glob.glob(os.path.join(dir_, pattern)))
    if not found:
        sys.exit(f"no report matches {pattern} under {dir_}")
    with open(found[0]) as f:
        return json.load(f), os.path.relpath(found[0], dir_)


def _per(cpu_s, count):
    return round(cpu_s / max(count, 1) * 1e6, 1)


def _join_costs(report):
    run = report["runs"][0]
    n = run["answered"]
    eng = run.get("engine_cpu_s", {})
    return {
        "server_us": _per(run["server_cpu_s"], n),
        "redis_us": _per(eng.get("redis", 0.0), n),
        "mariadb_us": _per(eng.get("mariadb", 0.0), n),
        "loadgen_us": _per(run["loadgen_cpu_s"], n),
        "joins_per_s": round(run["joins_per_s"], 1),
        "joins": n,
        "loadavg": run.get("loadavg_at_join", "").strip(),
    }


def _fleet(report):
    r = report["result"]
    ph = r["phases"]

    def cores(phase, who):
        p = ph[phase]
        if who == "server":
            cpu = p["servers_cpu_s"]
        elif who == "loadgen":
            cpu = p["workers_cpu_s"]
        else:
            cpu = p["engines_cpu_s"].get(who, 0.0)
        return cpu / p["wall_s"]

    whos = COMPONENTS + ("loadgen",)
    mem = None
    if r.get("redis_used_memory_before") is not None and r.get("redis_used_memory_joined"):
        mem = (r["redis_used_memory_joined"] - r["redis_used_memory_before"]) / max(r["joined"], 1)
    join = ph["join"]
    return {
        "instances": r["instances"],
        "clients": r["clients"],
        "joined": r["joined"],
        "queued": r["queued"],
        "joins_per_s": round(r["joins_per_s"], 1),
        "join_p99_ms": r["join_ms"]["p99"],
        "admissions_per_s": round(r["admissions_per_s"], 2),
        "admitted_from_line": r["admitted_from_line"],
        # Per join, over the join phase (a second of it idle before the first join).
        "join_us": {
            w: _per(
                join["servers_cpu_s"] if w == "server" else
                join["workers_cpu_s"] if w == "loadgen" else
                join["engines_cpu_s"].get(w, 0.0),
                r["joined"],
            )
            for w in whos
        },
        "admit_cores": {w: round(cores("admit", w), 4) for w in whos},
        "admit_wall_s": round(ph["admit"]["wall_s"], 2),
        "stand_cores": {w: round(cores("stand", w), 4) for w in whos} if "stand" in ph else None,
        "server_kb_per_connection": round(r["server_kb_per_connection"], 2),
        "server_rss_joined_kb": r["server_rss_joined_kb"],
        "server_rss_before_kb": r["server_rss_before_kb"],
        "redis_bytes_per_client": round(mem, 1) if mem is not None else None,
        "loadavg_at_start": r["loadavg_at_start"],
        "loadavg_at_end": r["loadavg_at_end"],
        "checks_passed": report.get("passed"),
    }


def _fit(points):
    """Least squares of y = a*x1 + b*x2 through the origin (two unknowns)."""
    s11 = sum(x1 * x1 for x1, _, _ in points)
    s22 = sum(x2 * x2 for _, x2, _ in points)
    s12 = sum(x1 * x2 for x1, x2, _ in points)
    s1y = sum(x1 * y for x1, _, y in points)
    s2y = sum(x2 * y for _, x2, y in points)
    det = s11 * s22 - s12 * s12
    if abs(det) < 1e-12:
        return None
    return (s1y * s22 - s2y * s12) / det, (s2y * s11 - s1y * s12) / det


def derive(dir_):
    app, app_src = _load(dir_, "join-app/join-storm-app.json")
    legacy, legacy_src = _load(dir_, "join-legacy/join-storm.json")
    rush, rush_src = _load(dir_, "rush-app/seat-rush-app.json")
    fleets = {}
    for path in sorted(glob.glob(os.path.join(dir_, "fleet-*/fleet.json"))):
        with open(path) as f:
            fleets[os.path.basename(os.path.dirname(path))] = _fleet(json.load(f))
    if "fleet-1" not in fleets:
        sys.exit("derive needs the fleet-1 run")

    random = rush["runs"][1]
    n = random["answered"]
    eng = random.get("engine_cpu_s", {})
    click = {
        "server_us": _per(random["server_cpu_s"], n),
        "redis_us": _per(eng.get("redis", 0.0), n),
        "mariadb_us": _per(eng.get("mariadb", 0.0), n),
        "clicks": n,
    }

    # Waiting app clients and admissions, from the one-instance runs: over the admissions, each
    # component's cores = admissions/s x cost per admission + people waiting x cost per person
    # per second (the line's mean length over the phase), fitted through both runs.
    one = [f for name, f in fleets.items() if f["instances"] == 1]
    waiting, admission = {}, {}
    for w in COMPONENTS + ("loadgen",):
        pts = []
        for f in one:
            mean_line = f["queued"] - f["admitted_from_line"] / 2
            pts.append((f["admissions_per_s"], mean_line, f["admit_cores"][w] * 1e6))
        fit = _fit(pts)
        a, b = fit if fit else (0.0, 0.0)
        # A negative fit (noise on a cost near zero) counts as zero.
        admission[f"{w}_us"] = round(max(a, 0.0), 1)
        waiting[f"{w}_us_per_s"] = round(max(b, 0.0), 3)
    # With the line standing still (nobody moves): the asking alone.
    big = fleets["fleet-1"]
    standing = {
        f"{w}_us_per_s": round(big["stand_cores"][w] * 1e6 / big["queued"], 3)
        for w in COMPONENTS + ("loadgen",)
    } if big["stand_cores"] else None

    # What an instance costs by itself, per second: the standing line's cores against the number
    # of instances, the same line spread over 1, 2, 4, 6 of them (slope of a straight line).
    same = sorted(
        (f for f in fleets.values() if f["clients"] == big["clients"] and f["stand_cores"]),
        key=lambda f: f["instances"],
    )
    per_instance = {}
    if len(same) >= 2:
        for w in COMPONENTS:
            xs = [f["instances"] for f in same]
            ys = [f["stand_cores"][w] * 1e6 for f in same]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            sxx = sum((x - mx) ** 2 for x in xs)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
            per_instance[f"{w}_us_per_s"] = round(max(slope, 0.0), 1)

    return {
        "what": "CPU microseconds per unit of work of each component, measured on one 2-core VM "
                "with every process (instances, Redis, MariaDB, load generator) sharing the "
                "cores; Redis and MariaDB are shared with other developers, so their figures "
                "are upper bounds. `benches/capacity.py derive` wrote this from the reports "
                "named in `sources`.",
        "sources": {
            "join_app": app_src,
            "join_legacy": legacy_src,
            "seat_click": rush_src,
            "fleets": sorted(fleets),
        },
        "join": {"app": _join_costs(app), "legacy": _join_costs(legacy)},
        "seat_click": click,
        "admission": admission,
        "waiting_app_admitting": waiting,
        "waiting_app_standing": standing,
        "instance_idle": per_instance,
        "memory": {
            "server_kb_per_connection": big["server_kb_per_connection"],
            # An instance's RSS before anyone connects (signed up, seeded, idle).
            "server_base_mib": round(big["server_rss_before_kb"] / 1024 / big["instances"], 1),
            "redis_bytes_per_waiting": big["redis_bytes_per_client"],
        },
        "limits": {"open_files_per_process": 20000, "file_reserve": 256},
        "fleets": fleets,
    }


# ---------------------------------------------------------------------------------------------
# the model


def _us(costs, key, who):
    return float(costs[key].get(f"{who}_us", 0.0) or 0.0)


def capacity(costs, k, c, redis_cores, mysql_cores, ram_gib, redis_gib, admissions, protocol="app",
             open_files=None):
    """What k instances of c cores each can hold, with the first component to saturate. Each
    instance costs the server and Redis something by itself every second (`instance_idle`)."""
    idle = costs.get("instance_idle", {})
    budget = {
        "server": k * c * 1e6 - k * float(idle.get("server_us_per_s", 0)),
        "redis": min(redis_cores, 1.0) * 1e6 - k * float(idle.get("redis_us_per_s", 0)),
        "mariadb": mysql_cores * 1e6 - k * float(idle.get("mariadb_us_per_s", 0)),
    }

    def best(limits):
        name, value = min(limits.items(), key=lambda kv: kv[1])
        return max(value, 0.0), name

    def per_unit(key):
        return {w: _us(costs, key, w) for w in COMPONENTS}

    join = costs["join"][protocol]
    joins = best({w: budget[w] / join[f"{w}_us"] for w in COMPONENTS if join[f"{w}_us"] > 0})
    click = per_unit("seat_click")
    clicks = best({w: budget[w] / click[w] for w in COMPONENTS if click[w] > 0})

    adm = costs["admission"]
    wait = costs["waiting_app_admitting"]
    limits = {}
    for w in ("server", "redis"):
        per = float(wait.get(f"{w}_us_per_s", 0) or 0)
        if per > 0:
            limits[w] = (budget[w] - admissions * float(adm.get(f"{w}_us", 0))) / per
    lim = costs["limits"]
    files = open_files or lim["open_files_per_process"]
    limits["open files"] = k * (files - lim["file_reserve"])
    mem = costs["memory"]
    limits["server memory"] = k * (ram_gib * 1024 - mem["server_base_mib"]) * 1024 / mem[
        "server_kb_per_connection"]
    if mem.get("redis_bytes_per_waiting"):
        limits["redis memory"] = redis_gib * 2**30 / mem["redis_bytes_per_waiting"]
    waiting = best(limits)
    return {"joins": joins, "waiting": waiting, "clicks": clicks}


def _fmt(v):
    if v >= 1e6:
        return f"{v / 1e6:.1f} M"
    if v >= 1e4:
        return f"{v / 1e3:.0f} k"
    return f"{v:,.0f}"


def table(args, costs):
    ks = [int(x) for x in args.instances.split(",")]
    cs = [float(x) for x in args.cores.split(",")]
    print(
        f"Redis {args.redis_cores:g} core(s) (ceiling 1), MariaDB {args.mysql_cores:g} cores, "
        f"{args.ram_gib:g} GiB per instance, Redis {args.redis_gib:g} GiB, "
        f"{args.admissions:g} admissions/s, {args.protocol} joins, "
        f"{args.open_files or costs['limits']['open_files_per_process']:,} open files per process\n"
    )
    print("| instances x cores | joins/s (first to saturate) | people waiting (first) | "
          "seat clicks/s (first) |")
    print("|---|---:|---:|---:|")
    rows = []
    for c in cs:
        for k in ks:
            cap = capacity(costs, k, c, args.redis_cores, args.mysql_cores, args.ram_gib,
                           args.redis_gib, args.admissions, args.protocol, args.open_files)
            rows.append((k, c, cap))
            cell = lambda q: f"{_fmt(cap[q][0])} ({cap[q][1]})"
            print(f"| {k} x {c:g} | {cell('joins')} | {cell('waiting')} | {cell('clicks')} |")
    if args.svg:
        # The waiting panel also shows the open-file limit raised (dashed): with it, what the
        # cores hold.
        raised = [(k, c, capacity(costs, k, c, args.redis_cores, args.mysql_cores, args.ram_gib,
                                  args.redis_gib, args.admissions, args.protocol, 1_000_000))
                  for k, c, _ in rows]
        with open(args.svg, "w") as f:
            f.write(svg(rows, raised, args))
        print(f"\nplot: {args.svg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# the plot (by hand, as benches/loadgen/src/svg.rs draws its charts)

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _panel(x0, y0, w, h, title, series, xs, ylabel, legend_top_left=False):
    ymax = max(v for _, pts, _ in series for _, (v, _) in pts) * 1.1 or 1
    xmin, xmax = min(xs), max(xs)
    sx = lambda x: x0 + (x - xmin) / max(xmax - xmin, 1) * w
    sy = lambda y: y0 + h - y / ymax * h
    out = [f'<text x="{x0 + w / 2}" y="{y0 - 12}" text-anchor="middle" font-size="14">{title}</text>',
           f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/>']
    for i in range(6):
        v = ymax * i / 5
        y = sy(v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(v)}</text>')
    for x in xs:
        out.append(f'<text x="{sx(x):.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11">{x}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 34}" text-anchor="middle" font-size="12">instances</text>')
    out.append(f'<text x="{x0 - 52}" y="{y0 + h / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {x0 - 52} {y0 + h / 2})">{ylabel}</text>')
    for i, (label, pts, dash) in enumerate(series):
        color = PALETTE[i % 3]
        path = " ".join(f"{sx(x):.1f},{sy(v):.1f}" for x, (v, _) in pts)
        dashed = ' stroke-dasharray="5,4"' if dash else ""
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dashed}/>')
        for x, (v, who) in pts:
            mark = {"server": "circle", "redis": "rect", "mariadb": "diamond"}.get(who, "cross")
            cx, cy = sx(x), sy(v)
            if mark == "circle":
                out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{color}"/>')
            elif mark == "rect":
                out.append(f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8" fill="{color}"/>')
            elif mark == "diamond":
                out.append(f'<path d="M{cx:.1f},{cy - 5:.1f} l5,5 l-5,5 l-5,-5 z" fill="{color}"/>')
            else:
                out.append(f'<path d="M{cx - 4:.1f},{cy - 4:.1f} l8,8 M{cx + 4:.1f},{cy - 4:.1f} l-8,8" '
                           f'stroke="{color}" stroke-width="2"/>')
        # The legend where the curves (rising to a ceiling) are not.
        if legend_top_left:
            ly, lx = y0 + 16 + i * 16, x0 + 8
        else:
            ly, lx = y0 + h - 8 - (len(series) - 1 - i) * 16, x0 + w - 200
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" stroke="{color}" stroke-width="2"{dashed}/>')
        out.append(f'<text x="{lx + 24}" y="{ly}" font-size="11">{label}</text>')
    return out


def svg(rows, raised, args):
    ks = sorted({k for k, _, _ in rows})
    cs = sorted({c for _, c, _ in rows})
    W, H = 1140, 420
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'font-family="sans-serif"><rect width="{W}" height="{H}" fill="white"/>']
    titles = {"joins": "joins/s", "waiting": "people waiting", "clicks": "seat clicks/s"}
    for p, q in enumerate(("joins", "waiting", "clicks")):
        series = [(f"{c:g} core(s) per instance",
                   [(k, cap[q]) for k, cc, cap in rows if cc == c], False) for c in cs]
        if q == "waiting":
            series += [(f"{c:g} core(s), 1,000,000 open files",
                        [(k, cap[q]) for k, cc, cap in raised if cc == c], True) for c in cs]
        parts += _panel(90 + p * 370, 50, 280, 290, titles[q], series, ks, titles[q],
                        legend_top_left=q == "waiting")
    parts.append(f'<text x="20" y="{H - 20}" font-size="11">marker = first to saturate: '
                 f'circle server, square Redis, diamond MariaDB, cross open files / memory. '
                 f'Redis {args.redis_cores:g} core (ceiling 1), MariaDB {args.mysql_cores:g} cores, '
                 f'{args.ram_gib:g} GiB per instance, {args.admissions:g} admissions/s.</text>')
    parts.append("</svg>\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# check: this box


def check(costs, cores=2.0):
    """Everything shares `cores`: the prediction is cores / (the sum of every process's CPU per
    unit of work), the load generator included (it runs on the same cores)."""
    join = costs["join"]["app"]
    per_join = sum(join[f"{w}_us"] for w in COMPONENTS + ("loadgen",))
    idle = sum(float(v) for v in costs.get("instance_idle", {}).values())
    print(f"Per app join on one instance (join-storm): "
          + ", ".join(f"{w} {join[f'{w}_us']:.0f}" for w in COMPONENTS + ("loadgen",))
          + f" µs; sum {per_join:.0f} µs; an instance alone costs {idle:.0f} µs/s (server, Redis and "
          f"MariaDB)\n")
    print("| instances | load average at start | predicted joins/s | achieved joins/s | "
          "achieved / predicted | measured µs per join (server + Redis + MariaDB + load generator) "
          "| predicted cores over the admissions | measured |")
    print("|---:|---|---:|---:|---:|---|---:|---:|")
    wait = costs["waiting_app_admitting"]
    adm = costs["admission"]
    for name, f in sorted(costs["fleets"].items(), key=lambda kv: (kv[1]["clients"], kv[1]["instances"])):
        k = f["instances"]
        predicted = (cores * 1e6 - k * idle) / per_join
        measured = f["join_us"]
        total = sum(measured[w] for w in COMPONENTS + ("loadgen",))
        line = f["queued"] - f["admitted_from_line"] / 2
        pred_cores = sum(
            (f["admissions_per_s"] * adm.get(f"{w}_us", 0) + line * wait.get(f"{w}_us_per_s", 0)) / 1e6
            for w in COMPONENTS + ("loadgen",)
        ) + k * idle / 1e6
        fitted = " (fitted)" if k == 1 else ""
        meas_cores = sum(f["admit_cores"][w] for w in COMPONENTS + ("loadgen",))
        print(f"| {k} ({f['clients']:,} clients) | {f['loadavg_at_start'].split(' ')[0]} | "
              f"{predicted:,.0f} | {f['joins_per_s']:,.0f} | {f['joins_per_s'] / predicted:.2f} | "
              f"{measured['server']:.0f} + {measured['redis']:.0f} + {measured['mariadb']:.0f} + "
              f"{measured['loadgen']:.0f} = {total:.0f} | {pred_cores:.2f}{fitted} | {meas_cores:.2f} |")
    waiters = sum(wait.get(f"{w}_us_per_s", 0) for w in COMPONENTS + ("loadgen",))
    if waiters > 0:
        print(f"\nPeople waiting this box holds at 50 admissions/s by CPU: "
              f"{(cores * 1e6 - 50 * sum(adm.get(f'{w}_us', 0) for w in COMPONENTS + ('loadgen',))) / waiters:,.0f} "
              f"({waiters:.2f} µs per person per second, the load generator's {wait.get('loadgen_us_per_s', 0):.2f} included); "
              f"by open files {costs['limits']['open_files_per_process'] - costs['limits']['file_reserve']:,} per instance.")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("derive")
    d.add_argument("dir")
    t = sub.add_parser("table")
    c = sub.add_parser("check")
    for s in (t, c):
        s.add_argument("--costs", default=os.path.join(HERE, "capacity.json"))
    t.add_argument("--instances", default="1,2,4,6,8,12,16")
    t.add_argument("--cores", default="1,2,4", help="cores per instance, comma-separated")
    t.add_argument("--redis-cores", type=float, default=1.0)
    t.add_argument("--mysql-cores", type=float, default=4.0)
    t.add_argument("--ram-gib", type=float, default=4.0, help="RAM per instance")
    t.add_argument("--redis-gib", type=float, default=8.0)
    t.add_argument("--admissions", type=float, default=50.0, help="admissions per second")
    t.add_argument("--protocol", choices=("app", "legacy"), default="app")
    t.add_argument("--open-files", type=int, help="open-file limit per process (default: this box's)")
    t.add_argument("--svg")
    args = p.parse_args()
    if args.cmd == "derive":
        json.dump(derive(args.dir), sys.stdout, indent=1)
        print()
        return
    with open(args.costs) as f:
        costs = json.load(f)
    if args.cmd == "table":
        table(args, costs)
    else:
        check(costs)


if __name__ == "__main__":
    main()
