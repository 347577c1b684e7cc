"""``seleksi skb``: the SKB with several assessors from the command line (issue 19).

    seleksi skb remind [--hours 24]       queue interview reminders in the outbox
    seleksi skb report PANEL [--json]     a panel's agreement and assessor severity

``remind`` is meant for cron (every few minutes): each booked interview that
starts within ``--hours`` gets one reminder, once. ``report`` prints what the
panel chair's page shows: the candidates' states, the adjudication queue, the
ICCs and Krippendorff's alpha with their 95 % intervals, and each assessor's
severity (logits) with its standard error and infit/outfit.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def register(sub: Any) -> None:
    p = sub.add_parser(
        "skb",
        help="SKB with several assessors: interview reminders, panel agreement and severity",
        description="The SKB scored by several assessors: queue the interview reminders in "
        "the outbox, or print a panel's agreement (ICC, Krippendorff's alpha) and its "
        "assessors' severity from the many-facet Rasch model. Set-up and scoring are on "
        "the pages (/skb-admin.html, /skb-assessor.html); see docs/skb.md.",
        epilog=examples(
            "seleksi skb remind                      # from cron, every few minutes",
            "seleksi skb report P1",
            "seleksi skb report P1 --json --db postgresql+psycopg://seleksi@127.0.0.1/exam",
        ),
    )
    ssub = p.add_subparsers(dest="skb_command", metavar="ACTION")
    ssub.required = True
    r = ssub.add_parser(
        "remind",
        help="queue a reminder for every interview starting soon (each once)",
        description="Queue one reminder in the recruitment outbox for every booked "
        "interview that starts within --hours and has not been reminded; candidates "
        "without an email address are counted.",
    )
    r.add_argument("--hours", type=float, default=24.0, help="how far ahead (default 24)")
    add_db_argument(r)
    r.set_defaults(func=_remind)
    rep = ssub.add_parser(
        "report",
        help="a panel's agreement and its assessors' severity",
        description="What the panel chair's page shows, as text or JSON.",
    )
    rep.add_argument("panel", metavar="PANEL", help="the panel's code")
    rep.add_argument("--json", action="store_true", help="print JSON")
    add_db_argument(rep)
    rep.set_defaults(func=_report)


def _engine(args: argparse.Namespace) -> Any:
    from exam_server.db import make_engine

    url = url_of(args.db)
    require_database(url, tables=("skb_panel",))
    return make_engine(url, pool_size=1)


def _remind(args: argparse.Namespace) -> int:
    from exam_server.assessment import service as svc

    if not 0 < args.hours <= 24 * 30:
        raise CommandError("--hours must be between 0 and 720")
    try:
        out = svc.send_reminders(_engine(args), time.time(), args.hours)
    except svc.Refused as exc:
        raise CommandError(exc.message) from None
    print(f"{out['queued']} reminder(s) queued, {out['no_address']} without an email address")
    return 0


def _report(args: argparse.Namespace) -> int:
    from exam_server.assessment import service as svc

    try:
        rep = svc.panel_report(_engine(args), args.panel)
    except svc.Refused as exc:
        raise CommandError(exc.message) from None
    if args.json:
        print(json.dumps(rep, indent=2, ensure_ascii=False))
        return 0
    print(f"panel {rep['panel']} · {rep['component_name_en']} ({rep['component']})")
    for c in rep["candidates"]:
        final = c["final"] or "-"
        print(f"  {c['registration_number']:<14} {c['submitted']}/{c['expected']} sheets  "
              f"{c['state']:<13} final {final}")  # fmt: skip
    print(f"awaiting adjudication: {', '.join(rep['adjudication']) or 'none'}")
    a = rep["agreement"]
    for name, e in (a.get("icc") or {}).items():
        if isinstance(e, dict):
            print(f"  {name:<9} {e['value']:.3f}  {_ci(e)}")
    for key, label in (("alpha", "(ordinal)"), ("component_alpha", "(every panel)")):
        if key in a:
            e = a[key]
            print(f"  alpha     {e['value']:.3f}  {_ci(e)}  {label}")
    ci = a.get("component_icc") or {}
    for name in ("ICC(1)", "ICC(k)"):
        if name in ci:
            e = ci[name]
            print(f"  {name:<9} {e['value']:.3f}  {_ci(e)}  (every panel, one-way; "
                  f"{ci['n']} candidates with {ci['k']} scores)")  # fmt: skip
    if ci.get("left_out"):
        print(f"  note: {ci['left_out']} candidate(s) with another number of scores "
              "left out of the one-way ICC")  # fmt: skip
    notes = (a.get("icc_note"), a.get("alpha_note"), a.get("component_icc_note"))
    for note in (*notes, rep["severity"].get("note")):
        if note:
            print(f"  note: {note}")
    for x in rep["severity"].get("assessors", []):
        print(f"  {x['assessor']:<16} severity {x['severity']:+.2f} (SE {x['se']:.2f})  "
              f"infit {x['infit']:.2f}  outfit {x['outfit']:.2f}")  # fmt: skip
    return 0


def _ci(e: dict[str, Any]) -> str:
    if e["low"] is None or e["high"] is None:
        return "[interval undefined]"
    return f"[{e['low']:.3f}, {e['high']:.3f}]"
