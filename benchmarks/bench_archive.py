"""The archive's speed: ``pitch export`` from DuckDB, and the Spark job against plain ingest.

    .venv/bin/python benchmarks/bench_archive.py [--messages 2000000] [--files 4] [--cores 2]

1. Generates ``--files`` text sessions of ``--messages / --files`` messages each
   (``python -m pitch generate``, different seeds, in a child process).
2. **ingest** (the baseline): ``pitch.ingest.ingest_path`` of every file, one
   after another, into a fresh database in this process: what one machine
   does today. Messages per second, and per core (this machine's cores).
3. **export**: ``pitch.archive.export`` of that database into a new archive
   (target: at least 5M messages/s). Wall time and this process's CPU time.
4. **spark**: the job (``pitch.spark.run``) on ``local[N]`` over the same files
   into a new archive; the session is started first and timed apart (a
   cluster keeps its executors; a job pays the start once). Messages per
   second per executor core, and the ratio to ingest per core (target <= 2).
   The archive is then checked against the export's, row for row.
5. The estimate for one trading day of four exchanges on ``--cluster-cores``
   cores, from the per-core figure (the method is printed with it).

Every figure is the best of ``--repeat`` runs; the machine is shared, so the
load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch import archive, store  # noqa: E402
from pitch.ingest import ingest_path  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, repeat: int) -> tuple[float, float]:
    """Best (wall, cpu) seconds of ``repeat`` calls of ``fn()``."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_seconds()
        fn()
        best = min(best, (time.perf_counter() - wall, cpu_seconds() - cpu))
    return best


def generate(folder: Path, messages: int, files: int) -> list[Path]:
    paths = []
    for i in range(files):
        path = folder / f"session{i}.pitch"
        subprocess.run([sys.executable, "-m", "pitch", "generate", str(path), "--messages",
                        str(messages // files), "--seed", str(i)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        paths.append(path)
    return paths


def ingest_all(db: Path, paths: list[Path]) -> None:
    db.unlink(missing_ok=True)
    conn = store.connect(db)
    try:
        for path in paths:
            ingest_path(conn, path)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N] (default 2)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--day-messages", type=float, default=4e9,
                        help="messages in one trading day of four exchanges (an assumption: "
                             "1 billion per exchange)")
    parser.add_argument("--cluster-cores", type=int, default=64)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    cores = os.cpu_count() or 1
    (work / "in").mkdir()
    paths = generate(work / "in", args.messages, args.files)
    n = args.files * (args.messages // args.files)
    size = sum(p.stat().st_size for p in paths)
    print(f"{n:,} messages in {args.files} files ({size / 1e6:,.0f} MB); {cores} cores; "
          f"load average {os.getloadavg()[0]:.1f}")

    db = work / "ingest.duckdb"
    wall, cpu = timed(lambda: ingest_all(db, paths), args.repeat)
    ingest_rate = n / wall
    print(f"ingest   {wall:6.2f} s  {ingest_rate / 1e6:5.2f} M msg/s  "
          f"{ingest_rate / cores / 1e6:5.2f} M/s per core  (cpu {cpu:.2f} s)")

    out = work / "export"
    wall, cpu = timed(lambda: (shutil.rmtree(out, ignore_errors=True),
                               archive.export(db, out)), args.repeat)
    print(f"export   {wall:6.2f} s  {n / wall / 1e6:5.2f} M msg/s  "
          f"(cpu {cpu:.2f} s: {n / cpu / 1e6:.2f} M msg per cpu-second)  target 5 M/s: "
          f"{'met' if n / wall >= 5e6 else 'NOT met'}")

    from pitch import spark as job

    started = time.perf_counter()
    session = job.session(f"local[{args.cores}]")
    start = time.perf_counter() - started
    target = work / "spark"
    try:
        wall, _ = timed(lambda: (shutil.rmtree(target, ignore_errors=True),
                                 job.run(session, [str(work / "in")], str(target))), args.repeat)
    finally:
        session.stop()
    spark_core = n / wall / args.cores
    ratio = (ingest_rate / cores) / spark_core
    print(f"spark    {wall:6.2f} s  {n / wall / 1e6:5.2f} M msg/s  {spark_core / 1e6:5.2f} M/s "
          f"per executor core on local[{args.cores}] (+{start:.1f} s session start)  "
          f"ingest/spark per core {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'})")
    check(out, target)

    hours = args.day_messages / (spark_core * args.cluster_cores) / 3600
    print(f"estimate: {args.day_messages:,.0f} messages (one day, four exchanges) at "
          f"{spark_core / 1e6:.2f} M/s per executor core on {args.cluster_cores} cores: "
          f"{hours * 60:,.0f} minutes (+ session start), if every core has a file to decode "
          f"(files >= cores) and the cluster's cores are as fast as these")


def check(exported: Path, sparked: Path) -> None:
    """The two archives must hold the same rows (the Spark run's files rows aside)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from archive_support import RUN_COLUMNS, archive_tables, assert_same

    assert_same(archive_tables(exported), archive_tables(sparked), {"files": RUN_COLUMNS})
    print("check    the Spark archive equals the export, row for row")


if __name__ == "__main__":
    main()
