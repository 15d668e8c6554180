#!/usr/bin/env python3
"""Table of benches/prod-ratio.sh's rounds: joins/s, p99 and CPU µs per join of the server,
Redis and MariaDB for each run, and production ÷ embedded burst rate per round (issue 14 item 1).
Usage: prod-ratio.py DIR"""
import json, statistics, sys
from pathlib import Path

root = Path(sys.argv[1])
rounds = sorted({int(d.name.rsplit('-', 1)[1]) for d in root.iterdir() if d.is_dir()})


def run(side, n):
    d = root / f'{side}-{n}'
    report = d / 'join-storm.json'
    if not report.exists():
        return None
    r = json.loads(report.read_text())['runs'][0]
    per = 1e6 / r['clients']
    engines = r.get('engine_cpu_s') or {}
    return {
        'load': (d / 'loadavg').read_text().split()[0],
        'joins_per_s': r['joins_per_s'],
        'p99': r['join_ms']['p99'],
        'server': r['server_cpu_s'] * per,
        'redis': engines.get('redis', 0) * per,
        'mariadb': engines.get('mariadb', 0) * per,
        'failures': r['failures'],
    }


print('| round | run | load | joins/s | p99 ms | server µs/join | Redis µs/join | MariaDB µs/join | failures |')
print('|---|---|---:|---:|---:|---:|---:|---:|---:|')
ratios = []
for n in rounds:
    got = {side: run(side, n) for side in ('prod', 'emb', 'paced')}
    for side, r in got.items():
        if r:
            print(f"| {n} | {side} | {r['load']} | {r['joins_per_s']:,.0f} | {r['p99']:.0f} | "
                  f"{r['server']:.0f} | {r['redis']:.0f} | {r['mariadb']:.0f} | {r['failures']} |")
    if got['prod'] and got['emb']:
        ratios.append(100 * got['prod']['joins_per_s'] / got['emb']['joins_per_s'])
if ratios:
    shown = ', '.join(f'{x:.1f}' for x in ratios)
    print(f'\nproduction ÷ embedded burst, per round: {shown} % '
          f'(median {statistics.median(ratios):.1f} %, {sum(x >= 60 for x in ratios)} of {len(ratios)} at 60 % or more)')
