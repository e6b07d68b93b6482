"""Read a `--profile` file (py-spy's collapsed stacks): where one process's CPU samples go.

    python -m bench.profile_report FILE PROCESS            # inclusive samples per function
    python -m bench.profile_report FILE PROCESS --under F  # what the callees of frame F take
    python -m bench.profile_report FILE PROCESS --self     # samples per leaf function

PROCESS is any part of a process's command line (`botrunner`, `celery`, `gunicorn`). Line numbers
are dropped, so a function's samples add up wherever in it they fell.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path
from typing import Iterator

LINE_NUMBER = re.compile(r":\d+\)")


def stacks(path: Path, process: str) -> Iterator[tuple[list[str], int]]:
    """Yield (frames, samples) of every stack of the processes whose command line contains `process`."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        if any(process in frame for frame in frames if frame.startswith("process ")):
            yield frames, int(count)


def inclusive(path: Path, process: str) -> tuple[int, collections.Counter[str]]:
    """Return the process's samples and, per function, the samples it was on the stack for."""
    total, counts = 0, collections.Counter[str]()
    for frames, count in stacks(path, process):
        total += count
        for frame in set(frames):
            counts[frame] += count
    return total, counts


def leaves(path: Path, process: str) -> tuple[int, collections.Counter[str]]:
    """Return the process's samples and, per function, the samples it was running itself."""
    total, counts = 0, collections.Counter[str]()
    for frames, count in stacks(path, process):
        total += count
        counts[frames[-1]] += count
    return total, counts


def under(path: Path, process: str, frame: str, depth: int = 1) -> tuple[int, collections.Counter[str]]:
    """Return the samples with `frame` (its start) on the stack and, per callee path `depth` deep, theirs."""
    total, counts = 0, collections.Counter[str]()
    for frames, count in stacks(path, process):
        at = next((i for i, name in enumerate(frames) if name.startswith(frame)), None)
        if at is None:
            continue
        total += count
        counts[" > ".join(frames[at + 1:at + 1 + depth]) or "(itself)"] += count
    return total, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("process")
    parser.add_argument("--under", metavar="FRAME", help="the start of a frame, e.g. 'decision (botrunner'")
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--self", action="store_true", dest="leaves")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if args.under:
        total, counts = under(args.file, args.process, args.under, args.depth)
    elif args.leaves:
        total, counts = leaves(args.file, args.process)
    else:
        total, counts = inclusive(args.file, args.process)
    print(f"{total} samples")
    for name, count in counts.most_common(args.top):
        print(f"{count:7d} {100 * count / max(total, 1):5.1f}%  {name}")


if __name__ == "__main__":
    main()
