"""Hostile inputs through every way in, counted: the corpora of `tests/hostile_corpus.py`, outside pytest.

    unshare --net -- sh -c 'ip link set lo up && .venv/bin/python benchmarks/hostile_inputs.py'

Run it in a private network namespace, as root there (as the tests run): the forbidden addresses (loopback,
private, link-local, cloud metadata, and their NAT64, 6to4 and Teredo forms) are bound on loopback with a
listener on ports 80 and 443 each, and every connection they accept is counted. Prints a Markdown table per
corpus, one row per way in (tried / clean / traceback / forbidden requests), then every case that was not clean
(with the note of a known one, whose fix lies outside the readers); exits 1 if any case showed a traceback or
reached a forbidden address.

    --only TEXT   run only the cases whose id contains TEXT
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the corpora and harness of the tests

from tests.hostile_corpus import (
    MALFORMED,
    SSRF,
    Network,
    Outcome,
    in_private_namespace,
    make_template,
    run_malformed,
    run_ssrf,
)


def table(title: str, outcomes: list[Outcome]) -> str:
    rows: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        rows[outcome.path].append(outcome)
    lines = [f"**{title}**", "", "| way in | tried | clean | traceback | forbidden requests |",
             "| --- | --- | --- | --- | --- |"]
    for path, group in [*rows.items(), ("**all**", outcomes)]:
        lines.append(f"| {path} | {len(group)} | {sum(o.clean for o in group)} | {sum(o.traceback for o in group)} | "
                     f"{sum(o.forbidden_requests for o in group)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only the cases whose id contains this text")
    args = parser.parse_args()
    if not in_private_namespace():
        print("Run this inside `unshare --net` (loopback only), as the tests run: it binds addresses on loopback.",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="clonr-hostile-") as scratch:
        folder = Path(scratch)
        template = make_template(folder)
        malformed = [run_malformed(case, folder / f"m{n}", template)
                     for n, case in enumerate(MALFORMED) if args.only in case.id]
        network = Network()
        try:
            ssrf = [run_ssrf(case, n, folder / f"s{n}", template, network)
                    for n, case in enumerate(SSRF) if args.only in case.id]
        finally:
            network.close()
    print(table("Malformed inputs", malformed))
    print()
    print(table("SSRF", ssrf))
    print()
    if network.unwatched:
        print(f"Not watched (could not bind): {', '.join(network.unwatched)}\n")
    known = {case.id: case.known for case in MALFORMED if case.known}
    for outcome in malformed + ssrf:
        if not outcome.clean:
            print(f"- {outcome.id}: {outcome.problem[:300]}")
            if outcome.id in known:
                print(f"  (known, to fix outside the readers: {known[outcome.id]})")
    slowest = max(malformed + ssrf, key=lambda o: o.seconds, default=None)
    if slowest:
        print(f"\n{len(malformed) + len(ssrf)} cases in {time.perf_counter() - started:.0f} s; slowest "
              f"{slowest.seconds:.1f} s ({slowest.id})")
    return 1 if any(o.traceback or o.forbidden_requests for o in malformed + ssrf) else 0


if __name__ == "__main__":
    sys.exit(main())
