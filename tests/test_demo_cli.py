"""`hub demo` as a newcomer runs it: it builds the regency, prints keys and example
requests, serves, and every printed example answers with data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hub.demo.serve import examples
from tests.support.servers import free_port

HUB = str(Path(sys.executable).parent / "hub")


def test_demo_serves_and_every_printed_example_answers(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {"HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", "COLUMNS": "400"}
    argv = [HUB, "demo", "--residents", "800", "--data-dir", str(tmp_path / "demo"), "--port", str(port)]
    log = (tmp_path / "demo.log").open("w+")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo did not start within 90 s"
            time.sleep(0.1)
        printed = (tmp_path / "demo.log").read_text()
        keys = dict(re.findall(r"^export (\w+)=(\S+)", printed, re.MULTILINE))
        assert set(keys) == {"DINSOS_KEY", "DUKCAPIL_KEY", "ANALYST_KEY"}, printed
        shown = examples(base, tmp_path / "demo")
        assert len(shown) >= 3 and printed.count("curl -s ") == len(shown)
        for title, path, key_var, payload in shown:
            headers = {"Authorization": f"Bearer {keys[key_var]}"} if key_var else {}
            r = httpx.post(f"{base}{path}", json=payload, headers=headers, timeout=30)
            body = r.json()
            assert r.status_code == 200 and "errors" not in body, (title, body)
            (namespace,) = body["data"].values()
            (answer,) = namespace.values()
            assert answer, (title, body)  # a non-empty answer, not just no error
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
