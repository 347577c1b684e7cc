"""Hostile-input campaign, longer than CI's: WebSocket frames (hypothesis) and
the admin API against its own OpenAPI schema (schemathesis, if installed).
Counts go to ``docs/reliability.md``.

    python -m benchmarks.server_fuzz [--frames 5000] [--examples 100]

schemathesis is not a dependency of the project (CI does not run it): install
it into the environment to include that part (``pip install schemathesis``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.report import machine_line
from benchmarks.server_faults import write_reliability_section
from exam_server.loadtest.fuzz import draw, ws_frame
from exam_server.loadtest.seeding import seed_load_exam
from exam_server.scaleout.cluster import WorkerCluster
from exam_server.settings import Settings
from exam_server.testing import free_port

SECRET = "fuzz-campaign-secret-key-0123456789-abcdefgh"


async def ws_campaign(cluster: WorkerCluster, creds: Any, token: str, n: int) -> dict[str, Any]:
    """Send ``n`` fuzzed frames over authenticated terminals (a fresh candidate
    whenever a fuzzed ``finish`` ends one); count the replies by code."""
    from exam_server.testing import Terminal

    frames = draw(ws_frame, n)
    codes: Counter[str] = Counter()
    sent = replies = internal = 0
    who = 0
    t: Any = None
    async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as hc:
        for f in frames:
            if t is None:
                c = creds[who]
                r = await hc.post(
                    "/api/candidate/login",
                    json={
                        "registration_number": c.registration_number,
                        "pin": c.pin,
                        "session_token": token,
                        "terminal_id": f"FZ-{who}",
                    },
                )
                t = await Terminal.open(cluster.ws_url, r.json()["token"], f"FZ-{who}")
                who += 1
            await t.ws.send(f)
            sent += 1
            msg = await t.next(timeout=30)
            replies += 1
            kind = msg["type"] if msg["type"] != "error" else f"error:{msg['code']}"
            codes[kind] += 1
            internal += msg.get("code") == "internal"
            if msg["type"] == "final":
                await t.close()
                t = None
        if t is not None:
            await t.close()
    healthy = httpx.get(cluster.url + "/healthz").status_code == 200
    return {
        "sent": sent,
        "replies": replies,
        "internal": internal,
        "codes": dict(codes),
        "healthy": healthy,
        "candidates": who,
    }


def schemathesis_campaign(cluster: WorkerCluster, role_tokens: dict[str, str], n: int) -> Any:
    exe = shutil.which("schemathesis") or str(
        Path(__file__).resolve().parent.parent / ".venv/bin/schemathesis"
    )
    if not Path(exe).exists():
        return None
    out: dict[str, Any] = {}
    for role, tok in role_tokens.items():
        with tempfile.TemporaryDirectory() as d:
            report = Path(d) / "report.ndjson"
            proc = subprocess.run(
                [
                    exe, "run", cluster.url + "/api/openapi.json",
                    "-H", f"Authorization: Bearer {tok}",
                    "-c", "not_a_server_error",
                    "-n", str(n), "--seed", "1",
                    "--report-ndjson-path", str(report),
                ],
                capture_output=True, text=True, timeout=1800,
            )  # fmt: skip
            text = proc.stdout + proc.stderr
            cases = re.findall(r"(\d+) generated", text)
            summary = [ln for ln in text.splitlines() if re.search(r"passed|failed|error", ln)]
            out[role] = {
                "exit": proc.returncode,
                "generated": int(cases[-1]) if cases else None,
                "summary": summary[-3:],
                "tail": text[-1500:],
            }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.server_fuzz")
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--examples", type=int, default=100)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/fuzz.db"
        seed, creds = seed_load_exam(url, SECRET, 200)
        s = Settings(
            database_url=url,
            secret_key=SECRET,
            port=free_port(),
            scrypt_n=2**8,
            messages_per_second=10_000.0,
            message_burst=10_000,
        )
        cluster = WorkerCluster(s, workers=0).start()
        try:
            t0 = time.time()
            ws = asyncio.run(ws_campaign(cluster, creds, seed.session_token, args.frames))
            ws["seconds"] = time.time() - t0
            tokens = {}
            for role, (user, pw) in (("admin", seed.admin), ("proctor", seed.proctor)):
                r = httpx.post(
                    cluster.url + "/api/auth/login", json={"username": user, "password": pw}
                )
                tokens[role] = r.json()["token"]
            st = schemathesis_campaign(cluster, tokens, args.examples)
            alive = httpx.get(cluster.url + "/healthz").status_code == 200
        finally:
            cluster.stop()
    print(json.dumps({"ws": ws, "schemathesis": st, "alive": alive}, indent=1))
    lines = [
        machine_line(),
        "",
        f"WebSocket: {ws['sent']} fuzzed frames (protocol-shaped objects with any subset of "
        "fields of any JSON type, arbitrary JSON, text, binary) over authenticated "
        f"terminals ({ws['candidates']} candidates): {ws['replies']} replies, "
        f"{ws['internal']} `internal` errors, server healthy afterwards: {ws['healthy']}. "
        "Replies by kind: "
        + ", ".join(f"`{k}` {v}" for k, v in sorted(ws["codes"].items(), key=lambda kv: -kv[1]))
        + ".",
    ]
    if st is None:
        lines.append("")
        lines.append("schemathesis was not installed: the OpenAPI campaign did not run.")
    else:
        for role, r in st.items():
            lines.append("")
            lines.append(
                f"schemathesis (`not_a_server_error`, up to {args.examples} examples per "
                f"operation) as **{role}**: exit code {r['exit']}; "
                + "; ".join(x.strip() for x in r["summary"])
            )
    lines += [
        "",
        f"`python -m benchmarks.server_fuzz --frames {args.frames} --examples {args.examples}`",
    ]
    md = "\n".join(lines)
    write_reliability_section("fuzz", md)
    print(md)
    return 0 if ws["internal"] == 0 and ws["healthy"] and alive else 1


if __name__ == "__main__":
    raise SystemExit(main())
