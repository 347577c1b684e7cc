"""``seleksi site``: exam sites that keep running when the line to the centre
is cut (``docs/sites.md``).

    seleksi site package --site CODE --key PEM --out DIR [--session CODE ...]   (centre)
    seleksi site install PACKAGE --centre-key PUB.pem                          (site)
    seleksi site key SESSION [--sealed KEY]                                    (site)
    seleksi site status                                                       (either)
    seleksi site sync [--centre URL] [--token-file FILE]                        (site)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def register(sub: Any) -> None:
    p = sub.add_parser(
        "site",
        help="exam sites and the centre: signed packages, key release, status, sync",
        description="Run exam sites that keep testing when the line to the centre is cut: "
        "the centre packages each site's exam day (signed, items encrypted per session), the "
        "site installs it, releases each session's key at its start (from the centre, or "
        "the sealed key), and syncs its answers, audit log and results back.",
        epilog=examples(
            "seleksi site package --db centre.db --site TILOK-01 --key centre-key.pem --out pkg/",
            "seleksi site install pkg/TILOK-01.seleksi-site --centre-key pkg/centre.pub.pem",
            "seleksi site key SESI-1 --sealed 'K3M9Q-…'   # the centre unreachable",
            "seleksi site status",
            "seleksi site sync --centre https://pusat.example --token-file pkg/TILOK-01.token",
        ),
    )
    ssub = p.add_subparsers(dest="site_command", metavar="ACTION")
    ssub.required = True

    pk = ssub.add_parser(
        "package",
        help="(centre) build a site's signed package, its sealed keys and sync token",
        description="Build the signed package of one site's sessions (those not closed, or "
        "the ones named) into DIR: CODE.seleksi-site (the package), CODE.sealed-keys.txt (one "
        "sealed key per session, to print and seal; mode 0600), CODE.token (the site's sync "
        "token; a new one each time, the old stops working; mode 0600) and centre.pub.pem "
        "(the key the site verifies with).",
        epilog=examples(
            "seleksi site package --site TILOK-01 --key centre-key.pem --out pkg/",
            "seleksi site package --site TILOK-01 --session SESI-1 --session SESI-2 "
            "--key centre-key.pem --out pkg/",
        ),
    )
    add_db_argument(pk)
    pk.add_argument("--site", required=True, metavar="CODE", help="the site's code")
    pk.add_argument(
        "--session", action="append", default=[], metavar="CODE", help="a session (repeatable)"
    )
    pk.add_argument(
        "--key",
        required=True,
        metavar="PEM",
        help="the centre's Ed25519 signing key (made there on first use, mode 0600)",
    )
    pk.add_argument("--out", required=True, metavar="DIR", help="where the files go")
    pk.set_defaults(func=package_cmd)

    ins = ssub.add_parser(
        "install",
        help="(site) verify a package's signature and install it",
        description="Verify PACKAGE with the centre's public key and install it into the "
        "site's database (made if missing). A package changed in any byte is refused and "
        "nothing is stored. Installing again is harmless; a newer package adds what is new.",
        epilog=examples("seleksi site install TILOK-01.seleksi-site --centre-key centre.pub.pem"),
    )
    add_db_argument(ins)
    ins.add_argument("package", metavar="PACKAGE")
    ins.add_argument("--centre-key", required=True, metavar="PEM", help="centre.pub.pem")
    ins.set_defaults(func=install_cmd)

    key = ssub.add_parser(
        "key",
        help="(site) release a session's key: from the centre, or the sealed key",
        description="Open a session's item content so it can be opened for logins: the key "
        "comes from the centre (--centre, --token-file) or, when the centre cannot be "
        "reached, from the sealed key sheet (--sealed).",
        epilog=examples(
            "seleksi site key SESI-1 --centre https://pusat.example --token-file TILOK-01.token",
            "seleksi site key SESI-1 --sealed 'K3M9Q-7XW2A-…'",
        ),
    )
    add_db_argument(key)
    key.add_argument("session", metavar="SESSION")
    key.add_argument("--sealed", metavar="KEY", help="the sealed key as typed from the sheet")
    _centre_args(key)
    key.set_defaults(func=key_cmd)

    st = ssub.add_parser(
        "status",
        help="a site: its package, keys and last sync; the centre: every site",
        description="At a site: the installed package, each session's key, the last sync. "
        "At the centre: every site's link, sync lag, pending records, results checked and "
        "verification problems. --json for a machine.",
        epilog=examples("seleksi site status", "seleksi site status --db centre.db --json"),
    )
    add_db_argument(st)
    st.add_argument("--json", action="store_true", help="print JSON")
    st.add_argument(
        "--verify",
        action="store_true",
        help="(centre) verify every site's synced chains again from the first record",
    )
    st.set_defaults(func=status_cmd)

    sy = ssub.add_parser(
        "sync",
        help="(site) send the centre everything it does not hold yet, now",
        description="One sync run (the site server also syncs on its own every "
        "site_sync_seconds while it runs). Exits 1 when the centre cannot be reached or "
        "reports a verification problem.",
        epilog=examples(
            "seleksi site sync --centre https://pusat.example --token-file TILOK-01.token"
        ),
    )
    add_db_argument(sy)
    _centre_args(sy)
    sy.add_argument(
        "--checkpoints",
        metavar="FILE",
        help="the site server's checkpoint file (default for SQLite: DB.checkpoints.jsonl)",
    )
    sy.add_argument(
        "--checkpoint-key",
        metavar="PEM",
        help="its public key (default for SQLite: DB.checkpoint-key.pub.pem)",
    )
    sy.set_defaults(func=sync_cmd)


def _centre_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--centre", metavar="URL", help="the centre's address (default $SELEKSI_CENTRE_URL)"
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="the site's sync token (default $SELEKSI_SITE_TOKEN)",
    )


def _client(args: argparse.Namespace) -> Any:
    from exam_server.sites.client import CentreClient

    url = args.centre or os.environ.get("SELEKSI_CENTRE_URL")
    if args.token_file:
        try:
            token = Path(args.token_file).read_text().strip()
        except OSError as exc:
            raise CommandError(f"{args.token_file}: {exc.strerror}") from None
    else:
        token = os.environ.get("SELEKSI_SITE_TOKEN", "")
    if not url or not token:
        raise CommandError("give the centre (--centre URL) and the token (--token-file FILE)")
    return CentreClient(url, token)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def package_cmd(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from exam_server.checkpoints import load_or_create_key
    from exam_server.db import make_engine
    from exam_server.sites import keys, link, package

    url = url_of(args.db)
    require_database(url, tables=("site_link",))
    try:
        key = load_or_create_key(Path(args.key))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{args.key}: {exc}") from None
    engine = make_engine(url)
    try:
        data, session_keys = package.build(engine, args.site, key, args.session or None)
        token = link.issue_token(engine, args.site)
    except (package.PackageError, link.LinkError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pkg_path = out / f"{args.site}.seleksi-site"
    pkg_path.write_bytes(data)
    sheet = [
        f"Kunci tersegel / sealed keys — {args.site}",
        "Buka hanya bila pusat tidak dapat dihubungi saat sesi dimulai.",
        "Open only when the centre cannot be reached at the session's start.",
        "",
        *(f"{code}: {keys.seal(code, k)}" for code, k in sorted(session_keys.items())),
        "",
    ]
    _write_private(out / f"{args.site}.sealed-keys.txt", "\n".join(sheet).encode())
    _write_private(out / f"{args.site}.token", (token + "\n").encode())
    (out / "centre.pub.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    print(
        f"{pkg_path} ({len(data):,} bytes, {len(session_keys)} session(s)); sealed keys,"
        f" token and centre.pub.pem in {out}"
    )
    return 0


def install_cmd(args: argparse.Namespace) -> int:
    from exam_server.checkpoints import load_public_key
    from exam_server.db import make_engine
    from exam_server.sites.install import install
    from exam_server.sites.package import PackageError

    try:
        public_key = load_public_key(Path(args.centre_key))
        data = Path(args.package).read_bytes()
    except OSError as exc:
        raise CommandError(f"{exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    engine = make_engine(url_of(args.db))
    try:
        pkg, added = install(engine, data, public_key)
    except PackageError as exc:
        raise CommandError(f"{args.package}: refused: {exc}") from None
    finally:
        engine.dispose()
    sessions = ", ".join(s["code"] for s in pkg.content["sessions"])
    if added:
        print(f"installed site {pkg.site_code}: {added} rows, sessions {sessions}")
    else:
        print(f"site {pkg.site_code}: this package is already installed (sessions {sessions})")
    print("each session's items stay sealed until its key is released (seleksi site key)")
    return 0


def key_cmd(args: argparse.Namespace) -> int:
    from exam_server.db import make_engine
    from exam_server.sites import keys
    from exam_server.sites.client import CentreUnreachable
    from exam_server.sites.package import PackageError

    url = url_of(args.db)
    require_database(url, tables=("site_sealed_items",))
    try:
        if args.sealed:
            key, how = keys.unseal(args.session, args.sealed), "sealed"
        else:
            client = _client(args)
            try:
                key, how = client.fetch_key(args.session), "centre"
            finally:
                client.close()
    except CentreUnreachable as exc:
        raise CommandError(f"{exc}; use the sealed key (--sealed)") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    engine = make_engine(url)
    try:
        n = keys.release(engine, args.session, key, how)
    except PackageError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    print(f"session {args.session}: {n} items opened (key from the {how})")
    return 0


def _when(t: float | None) -> str:
    if t is None:
        return "never"
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def status_cmd(args: argparse.Namespace) -> int:
    import time

    from sqlalchemy import select

    from exam_server.db import make_engine
    from exam_server.sites import intake, link
    from exam_server.sites.client import sync_state
    from exam_server.sites.install import installed_site
    from exam_server.sites.keys import SEALED, SESSION

    url = url_of(args.db)
    require_database(url, tables=("site_link",))
    engine = make_engine(url)
    try:
        site = installed_site(engine)
        if site is None:
            report: dict[str, Any] = {
                "role": "centre",
                "sites": link.overview(engine, time.time(), 60.0),
            }
            if args.verify:
                for s in report["sites"]:
                    s["verify"] = intake.verify_copies(engine, link.site_id_of(engine, s["code"]))
        else:
            with engine.connect() as conn:
                sessions = [
                    {"code": c, "status": s, "key_released": r is not None, "how": h}
                    for c, s, r, h in conn.execute(
                        select(
                            SESSION.c.code,
                            SESSION.c.status,
                            SEALED.c.released_at,
                            SEALED.c.released_how,
                        )
                        .join(SEALED, SEALED.c.session_id == SESSION.c.id)
                        .order_by(SESSION.c.code)
                    )
                ]
            report = {
                "role": "site",
                "site": site,
                "sessions": sessions,
                "sync": sync_state(engine),
            }
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if report["role"] == "site":
        sync = report["sync"]
        print(
            f"site {site}: last sync {_when(sync['last_ok_at'])}"
            f" (tried {_when(sync['last_try_at'])}), {sync['sent']} records taken by the centre"
        )
        if sync["last_error"]:
            print(f"  last error: {sync['last_error']}")
        for s in report["sessions"]:
            key = f"key released ({s['how']})" if s["key_released"] else "key NOT released"
            print(f"  {s['code']}: {s['status']}, {key}")
        return 0
    if not report["sites"]:
        print("no site has a link yet (seleksi site package makes one)")
    for s in report["sites"]:
        state = "online" if s["online"] else "OFFLINE"
        r = s["results"]
        print(
            f"{s['code']}: {state}, last contact {_when(s['last_contact_at'])}, lag"
            f" {s['lag_seconds']:.0f} s, {s['pending']} pending, {s['sessions_running']} sessions"
            f" running, {s['received']} received; results equal {r['equal']}, differ"
            f" {r['differs']}, pending {r['pending']}"
        )
        for pr in s["problems"]:
            print(f"  PROBLEM ({pr['kind']}): {pr['message']}")
        if "verify" in s:
            print(f"  chains verified again: {len(s['verify'])} problem(s)")
            for v in s["verify"]:
                print(f"  VERIFY: {v}")
    return 1 if any(s["problems"] or s.get("verify") for s in report["sites"]) else 0


def sync_cmd(args: argparse.Namespace) -> int:
    from exam_server import checkpoints as cps
    from exam_server.db import make_engine
    from exam_server.sites.client import CentreUnreachable, sync_once
    from exam_server.sites.outbox import Checkpoints

    url = url_of(args.db)
    require_database(url, tables=("site_sync_state",))
    file, key = cps.paths_for(url, args.checkpoints, None)
    pub = Path(args.checkpoint_key) if args.checkpoint_key else cps.public_key_path(key)
    checkpoints = Checkpoints(file, pub.read_text()) if pub.exists() else None
    client = _client(args)
    engine = make_engine(url)
    try:
        rep = sync_once(engine, client, checkpoints)
    except CentreUnreachable as exc:
        raise CommandError(str(exc)) from None
    finally:
        client.close()
        engine.dispose()
    print(
        f"{rep.stored} records stored at the centre, {rep.duplicates} it already held,"
        f" {rep.batches} batches, {rep.pending} still pending"
    )
    for p in rep.problems:
        print(f"PROBLEM: {p}")
    return 1 if rep.problems else 0
