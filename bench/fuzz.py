"""The long fuzz profile: hypothesis-graphql queries from each endpoint's own schema.

    .venv/bin/python bench/fuzz.py [--examples 5000] [--residents 2000] [--seed N]
                                   [--subjects public,owner,matcher,counter]

Serves the demo regency on a loopback port and sends `--examples` generated queries per
caller (public, an owner, a match-only and an aggregate-only subject; tests/support/fuzz.py
says what each may do and which promises every answer is held to). Unlike the suite's
short profile it does not stop at a problem: it counts them, prints the first few with
their queries, and exits 1 when there was any. Progress goes to stderr every 250 requests.
The seed is random unless given, and printed so that a run can be repeated; the examples
run in batches of 500, batch n seeded with seed + n.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Examples per Hypothesis run (seeded seed, seed + 1, …): what Hypothesis keeps of a run
# lives until the run ends, and the hub serves from this same process and event loop, so
# any full garbage collection here stops it too.
BATCH = 500
sys.path.insert(0, str(ROOT))

from hub.http.app import create_app  # noqa: E402
from tests.support.fuzz import SUBJECTS, Tally, Target, start_demo_hub  # noqa: E402
from tests.support.servers import serve  # noqa: E402


def progress(name: str, examples: int) -> Callable[[Tally], None]:
    started = time.monotonic()

    def report(tally: Tally) -> None:
        if tally.requests % 250 == 0:
            rate = tally.requests / max(time.monotonic() - started, 1e-9)
            print(
                f"  {name}: {tally.requests} requests ({examples} examples asked), {rate:.0f}/s, "
                f"{len(tally.problems)} problems",
                file=sys.stderr, flush=True,
            )  # fmt: skip

    return report


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="hub-fuzz-") as tmp:
        data_dir = Path(tmp) / "demo"
        os.environ["HUB_DEMO_DIR"] = str(data_dir)  # the demo catalog's sources point there
        print(f"generating the demo regency ({args.residents} residents) …", file=sys.stderr, flush=True)
        hub, callers = await start_demo_hub(data_dir, Path(tmp) / "hub", args.residents)
        failed = False
        try:
            async with serve(create_app(hub=hub)) as base:
                target = Target(hub, base, callers)
                await asyncio.to_thread(target.introspect)
                print(f"seed {args.seed}; {args.examples} examples per caller; {args.residents} residents")
                for name in args.subjects:
                    tally = Tally()
                    report = progress(name, args.examples)
                    for batch, first in enumerate(range(0, args.examples, BATCH)):
                        await asyncio.to_thread(
                            target.fuzz, callers[name], min(BATCH, args.examples - first), tally, stop=False,
                            derandomize=False, seed=args.seed + batch, progress=report,
                        )  # fmt: skip
                        gc.collect()
                    print(tally.line(f"{name} ({callers[name].path})"), flush=True)
                    for problem in tally.problems[:5]:
                        print("  " + problem[:2000])
                    failed = failed or bool(tally.problems)
                target.close()
        finally:
            await hub.close()
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=5000, help="generated queries per caller (5000)")
    parser.add_argument("--residents", type=int, default=2000, help="size of the demo regency (2000)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (random by default)")
    parser.add_argument(
        "--subjects", default=",".join(SUBJECTS), type=lambda s: s.split(","),
        help=f"callers to fuzz, comma-separated ({','.join(SUBJECTS)})",
    )  # fmt: skip
    args = parser.parse_args()
    unknown = set(args.subjects) - set(SUBJECTS)
    if unknown:
        parser.error(f"unknown subjects {sorted(unknown)}; choose from {', '.join(SUBJECTS)}")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
