"""Work on a thread of its own, a bounded distance ahead of the code that uses it."""

from __future__ import annotations

import queue
import threading
from typing import Generator, Iterator, TypeVar

T = TypeVar("T")


def prefetch(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """Run ``items`` in a thread, ``depth`` ahead of the consumer.

    Reading and decoding the next chunk (numpy, GIL mostly released) overlaps
    DuckDB inserting the previous one. Exceptions reach the consumer; closing
    the generator stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((end, None))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put((end, exc))

    worker = threading.Thread(target=produce, name="pitch-decode", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        # A consumer that leaves early (an error, a stop) may leave the producer
        # blocked on a full queue with its last put: drain until it is gone.
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(0.01)
