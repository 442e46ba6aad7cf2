#!/usr/bin/env python3
"""The cluster side of bench/small-files: submit one download task per file of a manifest into one
session, as fast as the API takes them (N threads, one keep-alive connection each), follow the
session's stored events from the first POST until every task has its `transfer.task.completed`,
then check every task (state, size, sha256, the stored object's bytes) against the manifest.

Standard library only. Prints one JSON document with the figures; exits 1 when a task did not
complete or a check failed (the JSON then has "error").

  submit_and_wait.py [--batch 100] --api http://127.0.0.1:P --key K --session S --base-url http://127.0.0.1:N/f/64k/ \
      --manifest SHA256SUMS --size-bytes 65536 --concurrency 16 --timeout 600 --data-dir DIR
"""
import argparse
import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--session", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--manifest", required=True, help="sha256sum output: '<sha256>  <name>' lines")
    p.add_argument("--size-bytes", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--data-dir", required=True, help="stored objects must lie under it")
    p.add_argument("--poll-interval", type=float, default=0.05)
    p.add_argument("--batch", type=int, default=0,
                   help="tasks per POST .../tasks:batch (0: one POST .../tasks per task)")
    p.add_argument("--at-last-event", default="",
                   help="a shell command run when the last completion event is read, before the "
                        "checks (the caller's CPU and cost snapshot: the checks' GETs are not the run's)")
    return p.parse_args()


class Api:
    """One keep-alive connection to the api-service (reconnects once when the server closed it)."""

    def __init__(self, base, key):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
        self.conn = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, payload, r.getheader("Retry-After")
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise


def parse_time(s):
    """RFC 3339 with up to nanoseconds (Python before 3.11 cannot parse 9 digits) -> epoch seconds."""
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    main, _, rest = s.partition(".")
    frac, tz = "0", ""
    if rest:
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac, tz = rest[:i] or "0", rest[i:]
    else:
        for sign in ("+", "-"):
            k = main.rfind(sign, 19)
            if k > 0:
                main, tz = main[:k], main[k:]
                break
    dt = datetime.fromisoformat(main + (tz or "+00:00"))
    return dt.timestamp() + float("0." + frac)


def main():
    a = parse_args()
    files = []  # (name, sha256)
    with open(a.manifest) as f:
        for line in f:
            sha, name = line.split(None, 1)
            files.append((name.strip().lstrip("*"), sha))
    n = len(files)
    sid = urllib.parse.quote(a.session, safe="")
    out = {"files": n, "concurrency": a.concurrency}

    # ---- submit (threads) and follow the events (one more thread), both from t0
    lock = threading.Lock()
    next_index = [0]
    task_of = [None] * n  # task id per file
    throttled = [0]
    errors = []
    submit_done = threading.Event()
    stop = threading.Event()
    completions = {}  # task id -> (state, seen at (epoch s), event time (epoch s))
    counts = {}
    polls = [0]
    duplicates = [0]

    def submitter():
        api = Api(a.api, a.key)
        step = max(1, a.batch)
        while not stop.is_set():
            with lock:
                i = next_index[0]
                if i >= n:
                    return
                next_index[0] += step
            chunk = range(i, min(i + step, n))
            bodies = [{"type": "download", "url": a.base_url + files[k][0], "sha256": files[k][1]} for k in chunk]
            name = files[i][0]
            if a.batch:
                path, body = f"/v1/sessions/{sid}/tasks:batch", {"tasks": bodies}
            else:
                path, body = f"/v1/sessions/{sid}/tasks", bodies[0]
            while True:
                try:
                    status, payload, retry_after = api.call("POST", path, body)
                except Exception as e:  # noqa: BLE001 - reported in the JSON
                    errors.append(f"POST for {name}: {e!r}")
                    stop.set()
                    return
                if status == 429:
                    with lock:
                        throttled[0] += 1
                    time.sleep(min(float(retry_after or 1), 5))
                    continue
                if status != 201:
                    errors.append(f"POST for {name} answered {status}: {payload[:300]!r}")
                    stop.set()
                    return
                answer = json.loads(payload)
                for k, task in zip(chunk, answer["tasks"] if a.batch else [answer]):
                    task_of[k] = task["id"]
                break

    def follower():
        api = Api(a.api, a.key)
        after = 0
        while not stop.is_set():
            try:
                status, payload, _ = api.call("GET", f"/v1/sessions/{sid}/events?after={after}&limit=1000")
            except Exception as e:  # noqa: BLE001
                errors.append(f"GET events: {e!r}")
                stop.set()
                return
            polls[0] += 1
            if status != 200:
                errors.append(f"GET events answered {status}: {payload[:300]!r}")
                stop.set()
                return
            seen = time.time()
            page = json.loads(payload)
            events = page.get("events") or []
            for e in events:
                t = e.get("type")
                counts[t] = counts.get(t, 0) + 1
                if t == "transfer.task.completed":
                    tid = e.get("subject") or (e.get("data") or {}).get("taskId")
                    if tid in completions:
                        duplicates[0] += 1
                        continue
                    state = (e.get("data") or {}).get("state")
                    completions[tid] = (state, seen, parse_time(e["time"]) if e.get("time") else seen)
            after = page.get("last", after)
            if submit_done.is_set() and len(completions) >= n:
                return
            if len(events) < 1000:
                time.sleep(a.poll_interval)

    t0 = time.time()
    threads = [threading.Thread(target=submitter, daemon=True) for _ in range(a.concurrency)]
    follow = threading.Thread(target=follower, daemon=True)
    follow.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_submitted = time.time()
    submit_done.set()
    follow.join(timeout=max(1.0, a.timeout - (t_submitted - t0)))
    t_end = time.time()
    stop.set()
    if a.at_last_event:
        subprocess.run(["bash", "-c", a.at_last_event], check=True)

    out["submitted"] = sum(1 for x in task_of if x)
    out["submit_s"] = t_submitted - t0
    out["http_429"] = throttled[0]
    out["events"] = counts
    out["event_polls"] = polls[0]
    out["duplicate_completions"] = duplicates[0]
    out["completed_events"] = len(completions)
    if errors:
        out["error"] = "; ".join(errors[:5])
        print(json.dumps(out))
        return 1
    if follow.is_alive() or len(completions) < n:
        out["error"] = f"only {len(completions)} of {n} completion events within {a.timeout} s"
        print(json.dumps(out))
        return 1
    mine = set(task_of)
    last_seen = max(v[1] for k, v in completions.items() if k in mine)
    last_time = max(v[2] for k, v in completions.items() if k in mine)
    first_time = min(v[2] for k, v in completions.items() if k in mine)
    out["total_s"] = last_seen - t0  # first POST sent to the last completion event read
    out["event_total_s"] = last_time - t0  # ... to the last completion event's own time
    out["first_completion_s"] = first_time - t0
    out["wait_after_submit_s"] = last_seen - t_submitted
    not_ok = [k for k, v in completions.items() if k in mine and v[0] != "completed"]

    # ---- check every task against the manifest: state, size, sha256, and the stored bytes
    api = Api(a.api, a.key)
    tasks = {}
    after = None
    while True:
        q = "limit=1000" + (f"&after={urllib.parse.quote(after)}" if after else "")
        status, payload, _ = api.call("GET", f"/v1/sessions/{sid}/tasks?{q}")
        if status != 200:
            out["error"] = f"GET tasks answered {status}: {payload[:300]!r}"
            print(json.dumps(out))
            return 1
        page = json.loads(payload)
        for t in page.get("tasks") or []:
            tasks[t["id"]] = t
        after = page.get("next")
        if not after:
            break
    bad = []
    created, finished = [], []
    root = os.path.realpath(a.data_dir)
    for i, (name, sha) in enumerate(files):
        t = tasks.get(task_of[i])
        if t is None:
            bad.append(f"{name}: task {task_of[i]} not listed")
            continue
        if t.get("state") != "completed":
            bad.append(f"{name}: state {t.get('state')} error {json.dumps(t.get('error'))}")
            continue
        if t.get("sha256") != sha or t.get("bytesTransferred") != a.size_bytes:
            bad.append(f"{name}: sha256 {t.get('sha256')} bytes {t.get('bytesTransferred')}")
            continue
        loc = t.get("location") or ""
        if not loc.startswith("file://"):
            bad.append(f"{name}: location {loc!r}")
            continue
        path = os.path.realpath(urllib.parse.unquote(loc[len("file://"):]))
        if not path.startswith(root + os.sep):
            bad.append(f"{name}: stored outside the data directory: {path}")
            continue
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            bad.append(f"{name}: stored object unreadable: {e}")
            continue
        if len(data) != a.size_bytes or hashlib.sha256(data).hexdigest() != sha:
            bad.append(f"{name}: stored object has {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
            continue
        if t.get("createdAt") and t.get("finishedAt"):
            created.append(parse_time(t["createdAt"]))
            finished.append(parse_time(t["finishedAt"]))
    out["verified"] = n - len(bad)
    out["attempts_max"] = max((t.get("attempt") or 1) for t in tasks.values()) if tasks else 0
    if created:
        durations = sorted(f - c for c, f in zip(created, finished))
        out["task_s_median"] = durations[len(durations) // 2]
        out["task_s_p99"] = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
        out["server_span_s"] = max(finished) - min(created)
    if not_ok or bad:
        out["error"] = f"{len(not_ok)} task(s) ended not completed; {len(bad)} failed the checks: " + "; ".join(bad[:5])
        print(json.dumps(out))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
