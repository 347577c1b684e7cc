"""What the ``seleksi results`` actions read: a file (a missing one said in
one line), the source (the database with ``--exam``, or an input document),
the ranking policy to rank with, and a JSON file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from None


def _load_source(args: argparse.Namespace) -> tuple[dict[str, Any], list[Any], list[Any]] | None:
    from exam_server.results.inputs import InputError, load_input

    if args.input and (args.db or args.exam):
        raise CommandError("give either --input or --db with --exam, not both")
    if args.input:
        try:
            return load_input(_read(args.input).decode("utf-8"))
        except (InputError, UnicodeDecodeError) as exc:
            raise CommandError(f"{args.input}: {exc}") from None
    if args.db or args.exam:
        if not args.exam:
            raise CommandError("--db needs --exam CODE (the exam to rank)")
        from exam_server.results.from_db import (
            SourceError,
            exam_document,
            load_outcomes,
            read_engine,
        )
        from seleksi.database import require_database, url_of

        url = url_of(args.db)
        require_database(url)  # reading never creates the database
        engine = read_engine(url)
        try:
            exam = exam_document(engine, args.exam)
            formations, outcomes = load_outcomes(engine, args.exam)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        finally:
            engine.dispose()
        return exam, formations, outcomes
    if args._source_required:
        raise CommandError("give the source: --db URL --exam CODE, or --input FILE")
    return None


def _policy_for(args: argparse.Namespace, exam_doc: dict[str, Any]) -> Any:
    """The ranking policy to rank with: the one the exam stores (its candidates
    were judged by it on the terminal); ``--policy`` must then be that same
    document, and is refused otherwise. Without a stored one (an input file
    that carries none): ``--policy``, else the 2024 rules."""
    from exam_server.results.rules import PolicyError, RankingPolicy

    try:
        given = RankingPolicy.from_json(_read(args.policy).decode("utf-8")) if args.policy else None
        stored = exam_doc.get("policy")
        own = None if stored is None else RankingPolicy.from_dict(stored)
    except PolicyError as exc:
        raise CommandError(f"{args.policy or 'the exam policy'}: {exc}") from None
    if own is None:
        return given or RankingPolicy.default_2024()
    if given is not None and given.to_json() != own.to_json():
        raise CommandError(
            f"--policy {args.policy} (version {given.version}) is not the ranking policy exam "
            f"{exam_doc['id']} stores (version {own.version}), under which its candidates were "
            "judged on the terminal: leave --policy out, or change the exam's policy before "
            "any of its sessions opens"
        )
    return own


def _json_file(path: str) -> Any:
    try:
        return json.loads(_read(path).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: not JSON ({exc})") from None
    except RecursionError:
        raise CommandError(f"{path}: not JSON (arrays or objects nested too deeply)") from None
