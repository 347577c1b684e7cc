"""Running the server: uvicorn with the limits the protocol expects."""

from __future__ import annotations

from typing import Any

from exam_server.settings import Settings

# Frames above this are refused by the transport (close 1009) before the
# application sees them; frames between ``max_frame_bytes`` and this get a
# ``too_large`` error frame.
WS_MAX_SIZE = 65536


def serve(settings: Settings, log_level: str = "info") -> None:
    """Serve ``create_app(settings)`` until interrupted."""
    import uvicorn

    from exam_server.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        ws_max_size=WS_MAX_SIZE,
        # Keep-alive pings find dead terminals (cable pulled) within ~40 s.
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m exam_server.serve [--host H] [--port P]`` (settings from env)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m exam_server.serve")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    serve(Settings.from_env(**overrides), log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
