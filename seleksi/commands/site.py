"""``seleksi site``: exam sites that keep running when the line to the centre
is cut (``docs/sites.md``).

    seleksi site package --site CODE --key PEM --out DIR [--session CODE ...]   (centre)
    seleksi site install PACKAGE --centre-key PUB.pem                          (site)
    seleksi site key SESSION [--sealed KEY]                                    (site)
    seleksi site status                                                       (either)
    seleksi site sync [--centre URL] [--token-file FILE]                        (site)
    seleksi site replace-key --reason TEXT [--centre URL --token-file FILE]    (site)
    seleksi site register-key --site CODE --statement FILE --fingerprint FP     (centre)
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
            "seleksi site replace-key --reason 'disk replaced'   # then read the fingerprint out",
            "seleksi site register-key --site TILOK-01 --statement TILOK-01.checkpoint-key.json "
            "--fingerprint XXXXX-XXXXX --by budi --reason 'phoned by the site head'",
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

    rk = ssub.add_parser(
        "replace-key",
        help="(site) replace the site's checkpoint key; write the statement for the centre",
        description="With the site server stopped: keep the old checkpoint key aside (if "
        "any), make a new one, and write the statement (signed by the new key) that it signs "
        "the site's checkpoints from the next number on. Read its fingerprint to the centre "
        "by telephone; the centre registers it (seleksi site register-key) and sync goes on. "
        "When the checkpoint file was lost too, give --centre and --token-file: the new "
        "lines continue from the centre's last checkpoint.",
        epilog=examples(
            "seleksi site replace-key --reason 'server disk failed, reinstalled'",
            "seleksi site replace-key --reason 'key file copied by someone' "
            "--centre https://pusat.example --token-file TILOK-01.token",
        ),
    )
    add_db_argument(rk)
    rk.add_argument("--reason", required=True, help="why the key is replaced (audited)")
    rk.add_argument(
        "--checkpoints",
        metavar="FILE",
        help="the site server's checkpoint file (default for SQLite: DB.checkpoints.jsonl)",
    )
    rk.add_argument(
        "--checkpoint-key",
        metavar="PEM",
        help="its private key file (default for SQLite: DB.checkpoint-key.pem)",
    )
    rk.add_argument(
        "--out", metavar="FILE", help="the statement (default: CODE.checkpoint-key.json)"
    )
    _centre_args(rk)
    rk.set_defaults(func=replace_key_cmd)

    rg = ssub.add_parser(
        "register-key",
        help="(centre) register a site's new checkpoint key from its statement",
        description="Register the new checkpoint key of a site from the statement the site "
        "made (seleksi site replace-key) and the fingerprint its operator read out by "
        "telephone. The site's checkpoints from the statement's number on then verify "
        "with the new key; those before with the key before. Audited.",
        epilog=examples(
            "seleksi site register-key --db centre.db --site TILOK-01 --statement "
            "TILOK-01.checkpoint-key.json --fingerprint K3M9Q-7XW2A --by budi "
            "--reason 'site head phoned 10:42'"
        ),
    )
    add_db_argument(rg)
    rg.add_argument("--site", required=True, metavar="CODE")
    rg.add_argument("--statement", required=True, metavar="FILE")
    rg.add_argument(
        "--fingerprint", required=True, metavar="FP", help="as the site's operator read it out"
    )
    rg.add_argument("--by", required=True, metavar="NAME", help="who registers it (audited)")
    rg.add_argument("--reason", required=True, help="why, and how the fingerprint came")
    rg.set_defaults(func=register_key_cmd)


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
    from exam_server.sites.client import CentreUnreachable
    from exam_server.sites.operator import release_session_key
    from exam_server.sites.package import PackageError

    url = url_of(args.db)
    require_database(url, tables=("site_sealed_items",))
    engine = make_engine(url)
    try:
        n, how = release_session_key(
            engine, args.session, args.sealed, None if args.sealed else lambda: _client(args)
        )
    except CentreUnreachable as exc:
        raise CommandError(f"{exc}; use the sealed key (--sealed)") from None
    except (ValueError, PackageError) as exc:
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

    from exam_server.db import make_engine
    from exam_server.sites import intake, link
    from exam_server.sites.install import installed_site

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
            from exam_server.settings import Settings
            from exam_server.sites.operator import report as site_report

            report = {
                "role": "site",
                **site_report(
                    engine,
                    lead_seconds=Settings.from_env().site_key_lead_seconds,
                    centre_url=os.environ.get("SELEKSI_CENTRE_URL"),
                    checkpoints=_checkpoints_of(url, None, None),
                ),
            }
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if report["role"] == "site":
        sync = report["sync"]
        for p in report["packages"]:
            print(
                f"site {p['site_code']}: package {p['package_id'][:12]}"
                f" built {_when(p['built_at'])},"
                f" signed by centre key {p['centre_key_id']} (verified at install"
                f" {_when(p['installed_at'])}), sessions {', '.join(p['sessions'])}"
            )
        oldest = sync["oldest_waiting_at"]
        print(
            f"last sync {_when(sync['last_ok_at'])} (tried {_when(sync['last_try_at'])}),"
            f" {sync['sent']} records taken by the centre, {sync['waiting']} waiting"
            + (f" (oldest written {_when(oldest)})" if oldest is not None else "")
        )
        if sync["last_error"]:
            print(f"  last error: {sync['last_error']}")
        for pr in sync["problems"]:
            print(f"  PROBLEM reported by the centre: {pr}")
        for ss in report["sessions"]:
            key = (
                f"key released ({ss['released_how']})"
                if ss["key_released"]
                else f"key NOT released (the centre gives it from {_when(ss['key_from'])})"
            )
            print(f"  {ss['code']}: {ss['status']}, {key}")
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


def _checkpoints_of(url: str, file: str | None, public_key: str | None) -> Any:
    """The site's checkpoint file and public key (None when it has no key yet)."""
    from exam_server import checkpoints as cps
    from exam_server.sites.outbox import Checkpoints

    path, key = cps.paths_for(url, file, None)
    pub = Path(public_key) if public_key else cps.public_key_path(key)
    return Checkpoints(path, pub.read_text()) if pub.exists() else None


def sync_cmd(args: argparse.Namespace) -> int:
    from exam_server.db import make_engine
    from exam_server.sites.client import CentreUnreachable, sync_once

    url = url_of(args.db)
    require_database(url, tables=("site_sync_state",))
    checkpoints = _checkpoints_of(url, args.checkpoints, args.checkpoint_key)
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


def replace_key_cmd(args: argparse.Namespace) -> int:
    from exam_server import checkpoints as cps
    from exam_server.db import make_engine
    from exam_server.sites.checkpoint_keys import CheckpointKeyError, replace_site_key
    from exam_server.sites.client import CentreUnreachable
    from exam_server.sites.install import installed_site

    url = url_of(args.db)
    require_database(url, tables=("site_sync_state",))
    file, key = cps.paths_for(url, args.checkpoints, args.checkpoint_key)
    centre_head = None
    if cps.latest(file) is None and (args.centre or args.token_file):
        client = _client(args)
        try:
            pos = client.positions()
        except CentreUnreachable as exc:
            raise CommandError(str(exc)) from None
        finally:
            client.close()
        centre_head = (pos.checkpoint.position, pos.checkpoint.hash)
    engine = make_engine(url)
    try:
        site = installed_site(engine)
        if site is None:
            raise CommandError("no site package is installed in this database")
        st = replace_site_key(engine, site, key, file, args.reason, centre_head=centre_head)
    except CheckpointKeyError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    out = Path(args.out or f"{site}.checkpoint-key.json")
    out.write_text(st.text + "\n")
    print(f"new checkpoint key {st.key_id} for site {site}, from checkpoint {st.from_n} on")
    print(f"statement: {out}")
    print(f"FINGERPRINT (read it to the centre by telephone): {st.fingerprint}")
    print("send the statement to the centre; start the site server again")
    return 0


def register_key_cmd(args: argparse.Namespace) -> int:
    from exam_server.db import make_engine
    from exam_server.sites.checkpoint_keys import CheckpointKeyError, register

    url = url_of(args.db)
    require_database(url, tables=("site_checkpoint_key",))
    try:
        text = Path(args.statement).read_text()
    except OSError as exc:
        raise CommandError(f"{args.statement}: {exc.strerror}") from None
    engine = make_engine(url)
    try:
        st, new = register(engine, args.site, text, args.fingerprint, args.by, args.reason)
    except CheckpointKeyError as exc:
        raise CommandError(f"refused: {exc}") from None
    finally:
        engine.dispose()
    if new:
        print(
            f"site {args.site}: checkpoint key {st.key_id} registered from checkpoint"
            f" {st.from_n} on (the lines before verify with the key before)"
        )
    else:
        print(f"site {args.site}: key {st.key_id} was already registered from {st.from_n}")
    return 0
