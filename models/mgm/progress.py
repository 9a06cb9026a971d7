"""Progress lines for the training scripts: seconds since start, to stdout and to a log file."""
from __future__ import annotations

import time
from typing import Optional


class ProgressLog:
    def __init__(self) -> None:
        self.path: Optional[str] = None
        self.t0 = time.time()

    def __call__(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(line + "\n")
