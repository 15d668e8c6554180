#!/usr/bin/env python3
"""Who wakes whom: reads `perf script` text of sched:sched_waking events recorded with call
stacks (`perf record -a -g -e sched:sched_waking --filter 'comm == "har-writer"'`) and counts
(waker, wakee, the waker's innermost user-space frame): `__lll_lock_wake_private` is a glibc
lock handed over (malloc's arena locks), `syscall` a tokio unpark, an irq frame a device
completion (disk writes). Usage: benches/wakers.py perf-script.txt"""
import collections,re,sys
c=collections.Counter()
for blk in open(sys.argv[1]).read().split('\n\n'):
    lines=[l for l in blk.strip().split('\n') if l.strip()]
    if not lines: continue
    m=re.match(r'\s*(.+?)\s+\d+\s+\[\d+\].*comm=(\S+)',lines[0])
    if not m: continue
    waker,wakee=m.group(1),m.group(2)
    user=[l.split()[1] for l in lines[1:] if 'kernel.kallsyms' not in l and len(l.split())>1]
    kern=[l.split()[1] for l in lines[1:] if 'kernel.kallsyms' in l]
    how=re.sub(r'\+0x[0-9a-f]+','',user[0]) if user else ('irq/'+re.sub(r'\+0x[0-9a-f]+','',kern[-1]) if kern else '?')
    if waker not in ('tokio-rt-worker','har-writer'): waker='other'
    c[(waker,wakee,how)]+=1
for k,v in c.most_common(14): print(v,k)
