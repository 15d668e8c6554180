#!/usr/bin/env python3
"""Medians of the A/B runs of benches/limits-ab.sh (sides `on`, `off`) or benches/app-ab.sh
(sides `app`, `legacy`, `legacy-novalidate`, `rush`): one column per side, median (range, n).
Usage: limits-summary.py DIR   (DIR holds SIDE-N/ folders)"""
import json, statistics, sys
from pathlib import Path

root = Path(sys.argv[1])
rows, sides = {}, []
def add(side, key, value):
    rows.setdefault(key, {}).setdefault(side, []).append(value)

def first(*paths):
    return next((p for p in paths if p.exists()), None)

for d in sorted(root.iterdir()):
    if not d.is_dir() or '-' not in d.name or not d.name.rsplit('-', 1)[1].isdigit():
        continue
    side = d.name.rsplit('-', 1)[0]
    if side not in sides:
        sides.append(side)
    for base, mode in ((d, 'burst'), (d / 'storm', 'storm')):
        path = first(base / 'join-storm.json', base / 'join-storm-app.json')
        if path:
            j = json.loads(path.read_text())
            r = j['runs'][0]
            if mode == 'storm':
                # The storm's pace (10,000/s unless STORM_RATE said otherwise), e.g. `storm 10k/s`.
                mode = f"storm {r.get('arrival_rate', 10000) / 1000:g}k/s"
            add(side, f'join {mode}: joins/s', r['joins_per_s'])
            add(side, f'join {mode}: p99 ms', r['join_ms']['p99'])
            add(side, f'join {mode}: server CPU ms / 1000 joins', 1e6 * r['server_cpu_s'] / max(r['answered'], 1))
            if 'server_threads' in r:
                t = r['server_threads']
                add(side, f'join {mode}: request-path CPU µs / join', 1000 * t['request_path_ms'] / max(r['answered'], 1))
                add(side, f'join {mode}: writer CPU µs / join', 1000 * t['writer_ms'] / max(r['answered'], 1))
                if 'request_path_switches' in t:
                    v, n = t['request_path_switches']
                    add(side, f'join {mode}: request-path context switches (voluntary)', v)
                    add(side, f'join {mode}: request-path context switches (involuntary)', n)
                if 'writer_switches' in t:
                    v, n = t['writer_switches']
                    add(side, f'join {mode}: writer context switches (voluntary)', v)
                    add(side, f'join {mode}: writer context switches (involuntary)', n)
            add(side, f'join {mode}: failures', r['failures'])
            add(side, f'join {mode}: load at start', float(j['machine']['loadavg_at_start'].split()[0]))
    p = first(d / 'seat-rush.json', d / 'seat-rush-app.json')
    if p:
        j = json.loads(p.read_text())
        for r in j['runs']:
            k = r['kind']
            add(side, f'seat rush {k}: select p99 ms', r['select_ms']['p99'])
            add(side, f'seat rush {k}: select p50 ms', r['select_ms']['p50'])
            add(side, f'seat rush {k}: server CPU ms', 1000 * r['server_cpu_s'])
            if 'server_threads' in r:
                add(side, f'seat rush {k}: request-path CPU ms', r['server_threads']['request_path_ms'])
                add(side, f'seat rush {k}: writer CPU ms', r['server_threads']['writer_ms'])
            add(side, f'seat rush {k}: seats granted twice', r['seats_granted_twice'])
            add(side, f'seat rush {k}: answered of admitted', r['answered'] / max(r['admitted'], 1))
            add(side, f'seat rush {k}: room news heard of expected', r['news_received'] / max(r['news_expected'], 1))
        add(side, 'seat rush: load at start', float(j['machine']['loadavg_at_start'].split()[0]))

def fmt(v):
    return f'{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f}, n={len(v)})' if v else '–'

print('| figure | ' + ' | '.join(sides) + (' | on vs off |' if sides == ['off', 'on'] else ' |'))
print('|---|' + '---:|' * (len(sides) + (1 if sides == ['off', 'on'] else 0)))
for key, by in rows.items():
    cells = [fmt(by.get(s, [])) for s in sides]
    if sides == ['off', 'on']:
        on, off = by.get('on', []), by.get('off', [])
        change = ''
        if on and off and statistics.median(off):
            change = f'{100 * (statistics.median(on) / statistics.median(off) - 1):+.1f} %'
        cells.append(change)
    print(f"| {key} | " + ' | '.join(cells) + ' |')
