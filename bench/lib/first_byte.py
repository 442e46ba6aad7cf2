#!/usr/bin/env python3
"""The measuring side of bench/first-byte: a tiny loopback origin and a client, in one process.

The origin (a stdlib HTTP server on 127.0.0.1:PORT, in a thread) records the moment each request
arrives (time.monotonic() and time.time(), as soon as its request line and headers are read) and
answers a few bytes. The client submits one download task at a time to the cluster, pointing at
/fb/<i> on that origin, and measures latency = the request's arrival at the origin minus the moment
just before the POST was sent (the same clock in the same process; the wall-clock submit time also
travels in the URL's query, for the logs). Then it waits until the task is final (so the cluster is
idle again), pauses, and submits the next.

Standard library only. Prints one JSON document with the figures; exits 1 on an error (the JSON
then has "error").

  first_byte.py --api http://127.0.0.1:P --key K --session S --port ORIGIN_PORT -n 200 --warmup 10
"""
import argparse
import glob
import http.server
import json
import math
import os
import re
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

from submit_and_wait import Api, parse_time

BODY = b"ok\n"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--session", required=True)
    p.add_argument("--port", type=int, required=True, help="the origin's port on 127.0.0.1")
    p.add_argument("-n", type=int, default=200, help="measured tasks")
    p.add_argument("--warmup", type=int, default=10, help="tasks before, not measured")
    p.add_argument("--pause", type=float, default=0.1, help="seconds between a task's end and the next submit")
    p.add_argument("--timeout", type=float, default=10, help="seconds to wait for one request or completion")
    p.add_argument("--logs-dir", help="the services' logs: the workers' 'claimed by' lines split the latency")
    return p.parse_args()


CLAIM_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) .* task ([0-9a-f-]{36}): claimed by ")


def claim_times(logs_dir, day):
    """task id -> wall time of the workers' 'claimed by' log line (the logs print the time of day in
    the machine's zone, without the date: the date is taken from `day`, a local datetime)."""
    out = {}
    for path in glob.glob(os.path.join(logs_dir, "worker-*.log")):
        with open(path, errors="replace") as f:
            for line in f:
                m = CLAIM_LINE.match(line)
                if m:
                    h, mi, sec, ms, tid = m.groups()
                    t = day.replace(hour=int(h), minute=int(mi), second=int(sec), microsecond=int(ms) * 1000)
                    out.setdefault(tid, t.timestamp())
    return out


class Origin:
    """Records each request's arrival by path (without the query) and wakes whoever waits for it."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.arrivals = {}  # path -> (monotonic, wall)
        self.waiting = {}  # path -> Event
        self.requests = 0
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                mono, wall = time.monotonic(), time.time()
                path = urllib.parse.urlsplit(self.path).path
                with origin.lock:
                    origin.requests += 1
                    origin.arrivals.setdefault(path, (mono, wall))
                    ev = origin.waiting.get(path)
                if ev is not None:
                    ev.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def expect(self, path):
        ev = threading.Event()
        with self.lock:
            self.waiting[path] = ev
        return ev


def percentile(sorted_values, q):
    """Nearest rank."""
    if not sorted_values:
        return None
    k = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[min(k, len(sorted_values) - 1)]


def main():
    a = parse_args()
    origin = Origin(a.port)
    api = Api(a.api, a.key)
    sid = urllib.parse.quote(a.session, safe="")
    base = f"http://127.0.0.1:{a.port}"
    out = {"n": a.n, "warmup": a.warmup, "pause_s": a.pause}
    latencies, post_times, after_answer, missed, not_completed, states = [], [], [], 0, 0, {}
    completion = []  # submit to a GET seeing the final state (polled every 20 ms)
    walls = []  # measured tasks: (task id, wall before the POST, wall of the answer, wall of the arrival)
    t_start = time.monotonic()
    for i in range(a.warmup + a.n):
        measured = i >= a.warmup
        path = f"/fb/{i}"
        ev = origin.expect(path)
        t0, w0 = time.monotonic(), time.time()
        url = f"{base}{path}?t={w0:.6f}"
        status, payload, _ = api.call("POST", f"/v1/sessions/{sid}/tasks", {"type": "download", "url": url})
        t_answer = time.monotonic()
        if status != 201:
            out["error"] = f"POST {i} answered {status}: {payload[:300]!r}"
            print(json.dumps(out))
            return 1
        w_answer = time.time()
        tid = json.loads(payload)["id"]
        arrived = ev.wait(a.timeout)
        if measured and arrived:
            walls.append((tid, w0, w_answer, origin.arrivals[path][1]))
        if measured:
            post_times.append((t_answer - t0) * 1000)
            if arrived:
                mono, _ = origin.arrivals[path]
                latencies.append((mono - t0) * 1000)
                after_answer.append(mono > t_answer)
            else:
                missed += 1
                latencies.append(a.timeout * 1000)
        # Wait until the task is final, so that the next submit meets an idle cluster.
        deadline = time.monotonic() + a.timeout
        state = None
        while time.monotonic() < deadline:
            st, body, _ = api.call("GET", f"/v1/sessions/{sid}/tasks/{tid}")
            if st == 200:
                state = json.loads(body).get("state")
                if state in ("completed", "failed", "canceled"):
                    break
            time.sleep(0.02)
        if measured:
            completion.append((time.monotonic() - t0) * 1000)
            states[state] = states.get(state, 0) + 1
            if state != "completed":
                not_completed += 1
        time.sleep(a.pause)
    # Where the time goes, from wall clocks (the same machine): the POST until the task's createdAt,
    # createdAt until a worker logged its claim, the claim until the request reached the origin.
    phases = {"post_to_created": [], "created_to_claim_logged": [], "claim_logged_to_origin": []}
    if a.logs_dir and walls:
        claims = claim_times(a.logs_dir, datetime.fromtimestamp(walls[0][1]))
        for tid, w0, w_answer, w_arrival in walls:
            st, body, _ = api.call("GET", f"/v1/sessions/{sid}/tasks/{tid}")
            if st != 200 or tid not in claims:
                continue
            created = parse_time(json.loads(body)["createdAt"])
            phases["post_to_created"].append((created - w0) * 1000)
            phases["created_to_claim_logged"].append((claims[tid] - created) * 1000)
            phases["claim_logged_to_origin"].append((w_arrival - claims[tid]) * 1000)
    out["phases_median_ms"] = {k: percentile(sorted(v), 0.5) for k, v in phases.items() if v}
    out["phases_p99_ms"] = {k: percentile(sorted(v), 0.99) for k, v in phases.items() if v}
    lat = sorted(latencies)
    post = sorted(post_times)
    comp = sorted(completion)
    out.update(
        {
            "median_ms": percentile(lat, 0.5),
            "p90_ms": percentile(lat, 0.9),
            "p99_ms": percentile(lat, 0.99),
            "max_ms": lat[-1] if lat else None,
            "min_ms": lat[0] if lat else None,
            "post_median_ms": percentile(post, 0.5),
            "post_p99_ms": percentile(post, 0.99),
            "completion_median_ms": percentile(comp, 0.5),
            "arrived_after_post_answer": sum(after_answer),
            "missed": missed,
            "not_completed": not_completed,
            "final_states": states,
            "origin_requests": origin.requests,
            "wall_s": time.monotonic() - t_start,
            "latencies_ms": [round(x, 3) for x in latencies],
        }
    )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
