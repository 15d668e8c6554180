#!/usr/bin/env python3
"""Medians of benches/limits-ab.sh's runs: limits on vs off, per figure. Usage: limits-summary.py DIR"""
import json, statistics, sys
from pathlib import Path

root = Path(sys.argv[1])
rows = {}
def add(side, key, value):
    rows.setdefault(key, {}).setdefault(side, []).append(value)

for d in sorted(root.iterdir()):
    if not d.is_dir():
        continue
    side = d.name.split('-')[0]
    for path, mode in ((d / 'join-storm.json', 'burst'), (d / 'storm' / 'join-storm.json', 'storm 10k/s')):
        if path.exists():
            j = json.loads(path.read_text())
            r = j['runs'][0]
            add(side, f'join {mode}: joins/s', r['joins_per_s'])
            add(side, f'join {mode}: p99 ms', r['join_ms']['p99'])
            add(side, f'join {mode}: server CPU ms / 1000 joins', 1e6 * r['server_cpu_s'] / max(r['answered'], 1))
            add(side, f'join {mode}: failures', r['failures'])
            add(side, f'join {mode}: load at start', float(j['machine']['loadavg_at_start'].split()[0]))
    p = d / 'seat-rush.json'
    if p.exists():
        j = json.loads(p.read_text())
        for r in j['runs']:
            k = r['kind']
            add(side, f'seat rush {k}: select p99 ms', r['select_ms']['p99'])
            add(side, f'seat rush {k}: select p50 ms', r['select_ms']['p50'])
            add(side, f'seat rush {k}: server CPU s', r['server_cpu_s'])
            add(side, f'seat rush {k}: seats granted twice', r['seats_granted_twice'])
        add(side, 'seat rush: load at start', float(j['machine']['loadavg_at_start'].split()[0]))

def fmt(v):
    return f'{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f}, n={len(v)})'

print('| figure | limits at defaults: median (range) | limits off: median (range) | on vs off |')
print('|---|---:|---:|---:|')
for key, sides in rows.items():
    on, off = sides.get('on', []), sides.get('off', [])
    change = ''
    if on and off and statistics.median(off):
        change = f'{100 * (statistics.median(on) / statistics.median(off) - 1):+.1f} %'
    print(f"| {key} | {fmt(on) if on else '–'} | {fmt(off) if off else '–'} | {change} |")
