"""Killing a real driver process mid-search, for the resume tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path


def kill_once_checkpointed(
    process: subprocess.Popen, checkpoint: Path, log: Path, trials: int = 2
) -> float:
    """SIGKILL ``process``'s whole session (the driver and the JVM it started) as soon as
    ``checkpoint`` holds ``trials`` finished trials; the time of the kill is returned.

    Fails with the end of ``log`` if the process dies first, or after 240 s without them.
    """
    try:
        deadline = time.monotonic() + 240
        finished = 0
        while finished < trials:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no trial finished in time"
            if checkpoint.exists():
                finished = len(json.loads(checkpoint.read_text())["trials"])
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    return time.time()
