#!/usr/bin/env python3
"""Who takes the server's threads off the CPU: reads `perf script` text of sched:sched_switch
(and sched:sched_wakeup) events recorded system-wide (`perf sched record -a`) during a loadgen
run, and counts, for the server process (its main thread is named `ticketclub`), each thread
group's switches out while still runnable (involuntary: prev_state R) by what ran next, and
its voluntary ones. Usage: perf script -i perf.data -F comm,pid,tid,time,event,trace | preemptions.py"""
import re, sys, collections

sw = re.compile(r'prev_comm=(.*?) prev_pid=(\d+) prev_prio=(\d+) prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)')
events = []
tgid_of = {}
server = None
for line in sys.stdin:
    parts = line.split(None, 2)
    m = re.match(r'\s*(.+?)\s+(\d+)/(\d+)\s+\[?\d*\]?\s*([\d.]+):\s+(\S+):\s+(.*)', line)
    if not m:
        continue
    comm, pid, tid, t, ev, trace = m.groups()
    tgid_of[int(tid)] = int(pid)
    if comm.strip() == 'ticketclub':
        server = int(pid)
    if ev.startswith('sched:sched_switch'):
        s = sw.search(trace)
        if s:
            events.append((float(t), s.groups()))
if server is None:
    sys.exit('no thread named ticketclub in the trace')

def group(comm, pid):
    if tgid_of.get(pid) == server:
        return 'server:' + re.sub(r'[-\d]+$', '', comm) if comm.startswith('tokio') else 'server:' + comm
    if comm.startswith('tokio-runtime'):
        return 'other:tokio (loadgen)'
    if comm.startswith('swapper'):
        return 'idle'
    return 'other:' + re.sub(r'[/:]?\d+$', '', comm)

inv = collections.Counter()
vol = collections.Counter()
by = collections.defaultdict(collections.Counter)
for t, (pc, pp, pprio, pstate, nc, np_) in events:
    pp, np_ = int(pp), int(np_)
    if tgid_of.get(pp) != server:
        continue
    g = group(pc, pp)
    if pstate.startswith('R'):
        inv[g] += 1
        by[g][group(nc, np_)] += 1
    else:
        vol[g] += 1
print(f'server pid {server}')
for g in sorted(set(inv) | set(vol)):
    top = ', '.join(f'{k} {v}' for k, v in by[g].most_common(6))
    print(f'{g}: voluntary {vol[g]}, involuntary {inv[g]} (next: {top})')
