#!/usr/bin/env python3
"""Small API chores for the scripts in bench/ (standard library only).

  api_tool.py submit --api URL --key K --session S --url U -n N [--concurrency 16]
      N download tasks of U?i=<k> (k = 0..N-1), over keep-alive connections; prints "ok" or the
      first errors and exits 1.
  api_tool.py count --api URL --key K --session S --state running
      the number of the session's tasks in that state (all pages).
"""
import argparse
import json
import sys
import threading
import urllib.parse

from submit_and_wait import Api


def submit(a):
    sid = urllib.parse.quote(a.session, safe="")
    lock, nxt, bad = threading.Lock(), [0], []

    def run():
        api = Api(a.api, a.key)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= a.n or bad:
                return
            sep = "&" if "?" in a.url else "?"
            try:
                st, body, _ = api.call("POST", f"/v1/sessions/{sid}/tasks", {"type": "download", "url": f"{a.url}{sep}i={i}"})
            except Exception as e:  # noqa: BLE001 - reported
                bad.append(repr(e))
                return
            if st != 201:
                bad.append(f"POST {i} answered {st}: {body[:200]!r}")

    threads = [threading.Thread(target=run) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("; ".join(bad[:3]) if bad else "ok")
    return 1 if bad else 0


def count(a):
    sid = urllib.parse.quote(a.session, safe="")
    api, n, after = Api(a.api, a.key), 0, None
    while True:
        q = f"state={urllib.parse.quote(a.state)}&limit=1000" + (f"&after={urllib.parse.quote(after)}" if after else "")
        st, body, _ = api.call("GET", f"/v1/sessions/{sid}/tasks?{q}")
        if st != 200:
            print(f"GET tasks answered {st}: {body[:200]!r}", file=sys.stderr)
            return 1
        page = json.loads(body)
        n += len(page.get("tasks") or [])
        after = page.get("next")
        if not after:
            break
    print(n)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("submit", "count"):
        s = sub.add_parser(name)
        s.add_argument("--api", required=True)
        s.add_argument("--key", required=True)
        s.add_argument("--session", required=True)
        if name == "submit":
            s.add_argument("--url", required=True)
            s.add_argument("-n", type=int, required=True)
            s.add_argument("--concurrency", type=int, default=16)
        else:
            s.add_argument("--state", required=True)
    a = p.parse_args()
    return submit(a) if a.cmd == "submit" else count(a)


if __name__ == "__main__":
    sys.exit(main())
