"""Is ingest linear? Seconds per million messages at a big size against a small one.

    .venv/bin/python benchmarks/bench_linear.py [--small 10000000] [--big 100000000] [--rounds 2]
        [--seed 7] [--small-file F] [--big-file F]

The machine is shared, and its speed drifts by tens of percent within minutes
(the same 10M-message ingest took 9.0 s, then 12.9 s five minutes later, on
an idle load average). A small run measured at one time and a big one at
another compare the machine, not the code. So the runs alternate, each in a
fresh child process (:func:`bench_ingest.in_child`, which also checks the
derived tables): small, big, small, big, ..., small. Each big run is compared
with the mean of the two small runs on either side of it.

Prints, per run: wall seconds, seconds per million messages, CPU seconds
(user + system) per million, peak RSS and temporary disk; then, per big run,
its seconds per million over its neighbours' (the target of issue 15: within
10 %, so at most 1.10) and the same ratio for CPU. Exits 1 when the median
wall ratio is over 1.10 or a big run's peak RSS is 2 GB or more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import generate, in_child  # noqa: E402

#: The targets of issue 15.
WITHIN = 1.10
RSS_MB = 2000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000_000)
    parser.add_argument("--big", type=int, default=100_000_000)
    parser.add_argument("--rounds", type=int, default=2, help="big runs (small runs: one more)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--small-file", type=Path, help="a generated file of --small messages")
    parser.add_argument("--big-file", type=Path, help="a generated file of --big messages")
    args = parser.parse_args()

    # Generated files and databases go with the folder, whether the runs end well or not.
    with tempfile.TemporaryDirectory(prefix="pitch-linear-") as folder:
        ok = measure(args, Path(folder))
    return 0 if ok else 1


def measure(args: argparse.Namespace, tmp: Path) -> bool:
    """Generate the files not given, run the alternation, print it; whether the targets hold."""
    files = {}
    for size, given in (("small", args.small_file), ("big", args.big_file)):
        n = getattr(args, size)
        files[size] = given or tmp / f"{size}.pitch"
        if not given:
            seconds = generate(files[size], n, args.seed)
            print(f"generated {n:,} messages in {seconds:.0f} s: {files[size]}")

    runs: list[dict] = []  # in the order run: small, big, small, ...
    order = ["small"] + ["big", "small"] * args.rounds
    for i, size in enumerate(order):
        n = getattr(args, size)
        got = in_child("ours", files[size], tmp / f"run-{i}.duckdb", n)
        got["per_m"] = got["seconds"] / n * 1e6
        got["cpu_per_m"] = (got["user_s"] + got["sys_s"]) / n * 1e6
        runs.append(got)
        print(f"run {i + 1} {size:5s} {n:>11,} messages: {got['seconds']:7.2f} s, "
              f"{got['per_m']:.3f} s per 1M, CPU {got['cpu_per_m']:.3f} s per 1M "
              f"(user {got['user_s']:.1f}, sys {got['sys_s']:.1f}), peak RSS "
              f"{got['rss_mb']:,.0f} MB, temporary disk {got['temp_mb']:,.0f} MB", flush=True)

    print()
    print("| big run | s per 1M | neighbours (small) | ratio | CPU s per 1M | neighbours | CPU ratio "
          "| peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratios, cpu_ratios, rss = [], [], []
    for i in range(1, len(runs), 2):
        big, before, after = runs[i], runs[i - 1], runs[i + 1]
        wall = (before["per_m"] + after["per_m"]) / 2
        cpu = (before["cpu_per_m"] + after["cpu_per_m"]) / 2
        ratios.append(big["per_m"] / wall)
        cpu_ratios.append(big["cpu_per_m"] / cpu)
        rss.append(big["rss_mb"])
        print(f"| {i // 2 + 1} | {big['per_m']:.3f} | {before['per_m']:.3f}, {after['per_m']:.3f} "
              f"| **{ratios[-1]:.2f}** | {big['cpu_per_m']:.3f} | {before['cpu_per_m']:.3f}, "
              f"{after['cpu_per_m']:.3f} | {cpu_ratios[-1]:.2f} | {big['rss_mb']:,.0f} MB |")
    median = statistics.median(ratios)
    ok = median <= WITHIN and max(rss) < RSS_MB
    print(f"\nmedian ratio {median:.2f} (CPU {statistics.median(cpu_ratios):.2f}); "
          f"target <= {WITHIN:.2f} and peak RSS < {RSS_MB:,} MB: {'met' if ok else 'NOT MET'}")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
