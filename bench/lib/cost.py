#!/usr/bin/env python3
"""What a piece of work costs the local cluster, counted rather than timed: CPU by process, and
PostgreSQL's statements, commits, WAL bytes and row changes, and the Kafka records the relay
published. Counts are stable where wall time on a shared 2-core machine is not.

  cost.py snapshot --db-port P --api http://127.0.0.1:A --pids 'api=1 workers=2,3 kafka=4 postgres=5' > before.json
  ... the work ...
  cost.py snapshot ... > after.json
  cost.py diff before.json after.json --tasks 2000 [--json out.json]

`snapshot` resets nothing: it reads cumulative counters (pg_stat_statements, pg_stat_database,
pg_stat_user_tables, pg_current_wal_lsn(), the api-service's /q/metrics, /proc/<pid>/stat), so two
snapshots bracket the work, whatever ran before. It waits for PostgreSQL's cumulative statistics,
which backends flush at most once a second, to settle first. `postgres` is the postmaster: its CPU
counts its live backends and the reaped ones. `kafka` is the process that runs the broker (the
local launcher's JVM). Standard library and psql only.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def psql(port, sql, db="transfer"):
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
         "-d", db, "-c", sql],
        check=True, capture_output=True, text=True, env=dict(os.environ, PGPASSWORD="postgres"),
    ).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def cpu_seconds(pid, tree=False):
    """utime+stime of a process; with tree, also its reaped children and its live descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            f = stat_fields(p)
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if tree else 0)
        if tree:
            todo += children(p)
    return total / CLK_TCK


def jit_seconds(pid):
    """CPU of a JVM's JIT compiler threads (C1 and C2 CompilerThread): a freshly started cluster
    spends much of its CPU there."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if "CompilerThre" not in f.read():
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            total += int(st[11]) + int(st[12])
        except OSError:
            continue
    return total / CLK_TCK


def published(api):
    """Kafka records the relay published, by topic (its publish timer's counts)."""
    out = {}
    try:
        with urllib.request.urlopen(api.rstrip("/") + "/q/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return out
    for m in re.finditer(r'^transfer_outbox_publish_seconds_count\{([^}]*)\}\s+([0-9.eE+]+)$', text, re.M):
        topic = re.search(r'topic="([^"]*)"', m.group(1))
        out[topic.group(1) if topic else "?"] = out.get(topic.group(1) if topic else "?", 0) + float(m.group(2))
    return out


def db_counters(port):
    psql(port, "create extension if not exists pg_stat_statements")
    # Cumulative statistics are flushed by each backend at most once a second, and by an idle one
    # within a second: read until two readings a second apart agree.
    last = None
    for _ in range(10):
        row = psql(port, "select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted"
                         " from pg_stat_database where datname = current_database()")[0]
        if row == last:
            break
        last = row
        time.sleep(1.1)
    commits, rollbacks, ins, upd, dele = (int(x) for x in last)
    wal = int(psql(port, "select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")[0][0])
    # WAL records and full-page images (a whole 8 KiB page logged at its first change after a
    # checkpoint): what the WAL bytes are made of. The server's, like the WAL position.
    wal_records, wal_fpi = (int(x) for x in psql(port, "select wal_records, wal_fpi from pg_stat_wal")[0])
    # The next transaction id: it moves only when a transaction writes (a read-only one, such as
    # an idle loop's look, gets none), so its difference counts the transactions that wrote.
    next_xid = int(psql(port, "select pg_snapshot_xmax(pg_current_snapshot())::text")[0][0])
    tables = {}
    for name, i, u, h, d, vac, anl in psql(
            port, "select relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del,"
                  " autovacuum_count + vacuum_count, autoanalyze_count + analyze_count"
                  " from pg_stat_user_tables"):
        tables[name] = {"ins": int(i), "upd": int(u), "hot": int(h), "del": int(d),
                        "vacuums": int(vac), "analyzes": int(anl)}
    statements = {}
    for q, calls, ms, rows in psql(
            port,
            "select regexp_replace(query, '\\s+', ' ', 'g'), sum(calls), sum(total_exec_time), sum(rows)"
            " from pg_stat_statements s join pg_database d on d.oid = s.dbid"
            " where d.datname = current_database() group by 1"):
        statements[q] = {"calls": int(calls), "ms": float(ms), "rows": int(rows)}
    return {"commits": commits, "next_xid": next_xid, "rollbacks": rollbacks, "rows": {"ins": ins, "upd": upd, "del": dele},
            "wal_bytes": wal, "wal_records": wal_records, "wal_fpi": wal_fpi, "tables": tables,
            "statements": statements}


def snapshot(a):
    pids = {}
    for part in a.pids.split():
        k, v = part.split("=", 1)
        pids[k] = [int(x) for x in v.split(",") if x]
    # The database's counters take up to seconds to settle; the cluster's CPU in that wait is not
    # the run's. So CPU is read last at the start of a run and first at its end (--end).
    if not a.end:
        db = db_counters(a.db_port)
    now = time.time()
    cpu = {k: sum(cpu_seconds(p, tree=(k == "postgres")) for p in v) for k, v in pids.items()}
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    cpu["machine"] = (sum(parts) - parts[3] - parts[4]) / CLK_TCK
    cpu["jit"] = sum(jit_seconds(p) for k, v in pids.items() if k != "postgres" for p in v)
    if a.end:
        db = db_counters(a.db_port)
    return {"time": now, "cpu": cpu, "db": db, "kafka": published(a.api) if a.api else {}}


def is_ours(q):
    """The benchmark's own statements (this script's), not the cluster's."""
    return "pg_stat_" in q or "pg_wal_lsn_diff" in q or "pg_stat_statements" in q or q.startswith("create extension")


def diff(a):
    b, e = (json.load(open(p)) for p in (a.before, a.after))
    n = a.tasks
    cpu = {k: e["cpu"][k] - b["cpu"].get(k, 0) for k in e["cpu"]}
    # Part of the JVMs' figures, said apart (the JIT compiler's share).
    jit = cpu.pop("jit", 0)
    stm_b, stm_e = b["db"]["statements"], e["db"]["statements"]
    per_stmt = []
    for q, v in stm_e.items():
        if is_ours(q):
            continue
        c = v["calls"] - stm_b.get(q, {}).get("calls", 0)
        if c > 0:
            per_stmt.append((c, v["ms"] - stm_b.get(q, {}).get("ms", 0), q))
    per_stmt.sort(reverse=True)
    statements = sum(c for c, _, _ in per_stmt)
    # This script's own transactions (a few per snapshot) are in the commit count; they are
    # negligible against thousands of tasks, and said below.
    commits = e["db"]["commits"] - b["db"]["commits"]
    writing = e["db"].get("next_xid", 0) - b["db"].get("next_xid", 0)
    wal = e["db"]["wal_bytes"] - b["db"]["wal_bytes"]
    wal_records = e["db"].get("wal_records", 0) - b["db"].get("wal_records", 0)
    wal_fpi = e["db"].get("wal_fpi", 0) - b["db"].get("wal_fpi", 0)
    rows = {k: e["db"]["rows"][k] - b["db"]["rows"][k] for k in ("ins", "upd", "del")}
    tables = {}
    # Vacuums and analyzes (autovacuum's workers and the reaper's analyze) per run, not per task:
    # each is a process's CPU in PostgreSQL's figure that no statement of the cluster shows.
    maintenance = {}
    for t, v in e["db"]["tables"].items():
        d = {k: v[k] - b["db"]["tables"].get(t, {}).get(k, 0) for k in v}
        m = {k: d.pop(k) for k in ("vacuums", "analyzes") if k in d}
        if any(d.values()):
            tables[t] = d
        if any(m.values()):
            maintenance[t] = m
    kafka = {t: e["kafka"].get(t, 0) - b["kafka"].get(t, 0) for t in e["kafka"]}
    cluster_cpu = sum(v for k, v in cpu.items() if k != "machine")
    out = {
        "tasks": n,
        "wall_s": e["time"] - b["time"],
        "cpu_ms_per_task": {k: 1000 * v / n for k, v in cpu.items()},
        "cluster_cpu_ms_per_task": 1000 * cluster_cpu / n,
        "jit_cpu_ms_per_task": 1000 * jit / n,
        "statements_per_task": statements / n,
        "commits_per_task": commits / n,
        "writing_transactions_per_task": writing / n,
        "wal_bytes_per_task": wal / n,
        "wal_records_per_task": wal_records / n,
        "wal_full_page_images_per_task": wal_fpi / n,
        "row_changes_per_task": {k: v / n for k, v in rows.items()},
        "row_changes_by_table_per_task": {t: {k: v / n for k, v in d.items()} for t, d in tables.items()},
        "maintenance_per_run": maintenance,
        "kafka_records_per_task": {t: v / n for t, v in kafka.items()},
        "top_statements": [{"calls_per_task": c / n, "ms_per_task": ms / n, "query": q[:160]}
                           for c, ms, q in per_stmt[:12]],
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    c = out["cpu_ms_per_task"]
    print(f"per task, over {n} tasks ({out['wall_s']:.1f} s):")
    print("  CPU ms             " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(c.items()) if k != "machine")
          + f"; cluster {out['cluster_cpu_ms_per_task']:.3f} (machine {c.get('machine', 0):.3f})")
    print(f"  of which JIT       {out['jit_cpu_ms_per_task']:.3f}  (the JVMs' C1 and C2 compiler threads)")
    print(f"  statements         {out['statements_per_task']:.2f}")
    print(f"  commits            {out['commits_per_task']:.3f}  (read-only ones included: each idle loop's look is one)")
    print(f"  writing xacts      {out['writing_transactions_per_task']:.3f}  (transactions that wrote: transaction ids assigned)")
    print(f"  WAL bytes          {out['wal_bytes_per_task']:.0f}  (records {out['wal_records_per_task']:.1f},"
          f" full-page images {out['wal_full_page_images_per_task']:.2f})")
    rc = out["row_changes_per_task"]
    print(f"  row changes        {sum(rc.values()):.2f} (ins {rc['ins']:.2f}, upd {rc['upd']:.2f}, del {rc['del']:.2f})")
    for t, d in sorted(out["row_changes_by_table_per_task"].items()):
        print(f"    {t:<18} " + ", ".join(f"{k} {v:.2f}" for k, v in d.items() if v))
    print("  vacuums, analyzes  " + (", ".join(f"{t} {m.get('vacuums', 0)}/{m.get('analyzes', 0)}"
                                              for t, m in sorted(out["maintenance_per_run"].items())) or "-")
          + "  (in the run, not per task)")
    print("  Kafka records      " + (", ".join(f"{t} {v:.2f}" for t, v in sorted(out["kafka_records_per_task"].items())) or "-"))
    print("  top statements (calls per task, ms per task):")
    for s in out["top_statements"]:
        print(f"    {s['calls_per_task']:6.2f} {s['ms_per_task']:7.3f}  {s['query']}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("--db-port", type=int, required=True)
    s.add_argument("--api", default="")
    s.add_argument("--pids", required=True, help="'name=pid[,pid...] ...'; 'postgres' counts its tree")
    s.add_argument("--end", action="store_true", help="the end of a run: CPU read first")
    d = sub.add_parser("diff")
    d.add_argument("before")
    d.add_argument("after")
    d.add_argument("--tasks", type=int, required=True)
    d.add_argument("--json")
    a = p.parse_args()
    if a.cmd == "snapshot":
        json.dump(snapshot(a), sys.stdout)
    else:
        diff(a)


if __name__ == "__main__":
    main()
