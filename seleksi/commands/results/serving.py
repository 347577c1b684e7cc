"""``seleksi results serve``: a publication's public pages on their own,
without the exam server.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    from exam_server.results import publication as pubm
    from exam_server.results.pages import routes

    if not (Path(args.publication) / pubm.MANIFEST).is_file():
        raise CommandError(f"{args.publication}: no {pubm.MANIFEST}; is this a publication?")

    async def home(_request: Any) -> RedirectResponse:
        return RedirectResponse("/results/")

    app = Starlette(routes=[Route("/", home), *routes(args.publication)])
    print(f"results pages: http://{args.host}:{args.port}/results/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
