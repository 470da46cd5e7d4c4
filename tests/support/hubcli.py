"""Run the `hub` command as a user would: a separate process, its own environment."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

HUB = Path(sys.executable).parent / "hub"


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


def hub_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's HUB_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**env, "COLUMNS": "1000", "NO_COLOR": "1", **extra}


async def run_hub(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    process = await asyncio.create_subprocess_exec(
        str(HUB),
        *args,
        cwd=cwd,
        env=env if env is not None else hub_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
