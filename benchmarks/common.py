"""What several benchmarks measure the same way."""

from __future__ import annotations

import os


def tree_pss_mb(pid: int) -> float:
    """Memory of `pid` and all its descendants, MB: their proportional set sizes summed, so pages
    that forked workers share with their parent count once, not once per process as RSS would."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
            for task in os.listdir(f"/proc/{p}/task"):
                stack += [int(c) for c in open(f"/proc/{p}/task/{task}/children").read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024
