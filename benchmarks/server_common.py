"""What the exam-server benchmarks share: the secret, the server's settings, the
seeded load exam, waiting for its forms, the file-descriptor limit, the
server's own /healthz view of a run."""

from __future__ import annotations

import resource
import time
from typing import Any

from exam_server.loadtest.runner import Credentials
from exam_server.loadtest.seeding import seed_load_exam
from exam_server.settings import Settings
from exam_server.testing import free_port

SECRET = "benchmark-secret-key-0123456789-abcdefghijkl"


def raise_fd_limit(need: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit toward ``need`` (each terminal is one fd
    here and one in the server); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def settings_for(url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "secret_key": SECRET,
        "port": free_port(),
        "scrypt_n": 2**14,
        "grace_seconds": 30.0,
    }
    values.update(extra)
    return Settings(**values)


def seeded(url: str, n: int) -> tuple[str, list[Credentials]]:
    seed, creds = seed_load_exam(url, SECRET, n)
    return seed.session_token, creds


def wait_prepared(url: str, n: int, timeout: float = 900.0) -> float:
    """Wait until the server has prepared (assembled) all ``n`` attempts, as it
    does when a session opens ahead of the rush; returns the seconds it took."""
    from sqlalchemy import text

    from exam_server.db import make_engine

    t0 = time.time()
    engine = make_engine(url, pool_size=1)
    try:
        while time.time() - t0 < timeout:
            with engine.connect() as conn:
                done = conn.execute(text("SELECT count(*) FROM exam_attempt")).scalar() or 0
            if done >= n:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    return time.time() - t0


def fmt(lat: dict[str, float]) -> str:
    return " / ".join(f"{lat[k]:.1f}" for k in ("p50", "p95", "p99", "max"))


def server_health(url: str, seconds: float) -> dict[str, Any]:
    """The server's own view of the run (``/healthz``): loop lag, GC pauses,
    commit batch times; empty if it cannot be read."""
    import httpx

    try:
        r = httpx.get(url + "/healthz", params={"seconds": min(300.0, seconds)}, timeout=10)
        return dict(r.json())
    except Exception:
        return {}
