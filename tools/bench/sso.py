#!/usr/bin/env python3
"""What single sign-on costs the server (docs/performance.md, "Single
sign-on"): starts borough (one worker) with a small app and the test
OpenID provider (tests/oidc/provider.js, loopback, HTTPS), then signs N
people in one after another over HTTP, as a browser would, and reads

  - from borough's log, for each callback: the server's own work apart
    from the time it waited for the provider (the token endpoint's answer,
    and the key set when it had to fetch it), and the part of that spent
    on the account, its roles and the session;
  - from the access log, the time of each start (/_account/sso: state,
    nonce, PKCE and the row of the sign-in in flight);
  - from the provider, how often it was asked for its discovery document
    and its key set: once each, by the first sign-in, then never (cached).

Prints a Markdown table. Sequential sign-ins: latency, not throughput.

    tools/bench/sso.py [--sign-ins N]
"""
import argparse
import os
import re
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from ssolib import Browser, Site  # noqa: E402

WORK = re.compile(r"single sign-on: ([0-9.]+) ms of server work \(([0-9.]+) ms for the account and session\), "
                  r"([0-9.]+) ms waiting for the provider in (\d+) exchange")
START = re.compile(r"GET /planning/_account/sso 303 ([0-9.]+)ms")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sign-ins", type=int, default=200)
    args = ap.parse_args()
    with Site() as site:
        site.sign_in(Browser(site.port), "alice")          # the first: discovery and keys fetched
        first = site.idp.requests()
        for _ in range(args.sign_ins):
            r = site.sign_in(Browser(site.port), "alice")
            assert r.status == 303, r
        after = site.idp.requests()
        log = site.server.log()
    rows = [tuple(float(x) for x in m.groups()) for m in WORK.finditer(log)]
    starts = [float(m.group(1)) for m in START.finditer(log)]
    cold, warm = rows[0], rows[1:]
    own = [r[0] for r in warm]
    account = [r[1] for r in warm]
    waiting = [r[2] for r in warm]
    n = len(warm)
    print("| %d sign-ins after the first (one worker, sequential) | p50 ms | p95 ms |" % n)
    print("|---|---|---|")
    print("| the callback's server work, the provider's time left out: token response read, ID token verified "
          "(RS256, 2048-bit key), claims checked, account, roles and session written | %.2f | %.2f |"
          % (statistics.median(own), pct(own, 95)))
    print("| of which the account, its mapped roles and the session (SQLite) | %.2f | %.2f |"
          % (statistics.median(account), pct(account, 95)))
    print("| the start, /_account/sso (state, nonce, PKCE verifier, the row of the sign-in in flight) | %.2f | %.2f |"
          % (statistics.median(starts[1:]), pct(starts[1:], 95)))
    print("| (waiting for the provider's token endpoint, on loopback: the provider's time, not ours) | %.2f | %.2f |"
          % (statistics.median(waiting), pct(waiting, 95)))
    print()
    print("The first sign-in fetched the discovery document and the key set (%.2f ms of server work, %d exchanges "
          "with the provider in its callback). Requests the provider served for the %d sign-ins after it: "
          "discovery %d, key set %d, token endpoint %d."
          % (cold[0], int(cold[3]), n,
             after.get("/.well-known/openid-configuration", 0) - first.get("/.well-known/openid-configuration", 0),
             after.get("/jwks", 0) - first.get("/jwks", 0), after.get("/token", 0) - first.get("/token", 0)))


if __name__ == "__main__":
    main()
