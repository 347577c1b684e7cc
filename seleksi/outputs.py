"""Output files of the commands: checked before the work, written whole or not at all.

A command checks every output path with :func:`check_output` before it starts
(a fit or a simulation can take minutes; a typo in ``--report`` must not
cost them), then writes each output with :func:`write_outputs`: every file
goes to a temporary file in its own folder, and only when all of them are
complete are they renamed into place (``os.replace``, atomic on one file
system). A failure leaves no half-written file and no stray temporary one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from seleksi.cli import CommandError


def check_output(path: str | Path, option: str = "") -> Path:
    """``path`` if a file can be written there; else :class:`CommandError` in one line.

    option: the option that named it (``--report``), for the message.
    """
    p = Path(path).expanduser()
    label = f"{option} {p}" if option else str(p)
    if p.is_dir():
        raise CommandError(f"{label}: is a folder; give a file name")
    folder = p.parent
    if not folder.is_dir():
        raise CommandError(f"{label}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"{label}: cannot write in the folder {folder} (permission denied)")
    if p.exists() and not os.access(p, os.W_OK):
        raise CommandError(f"{label}: the file is read-only")
    return p


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_outputs(files: Iterable[tuple[str | Path, str | bytes]]) -> None:
    """Write every ``(path, content)`` (text as UTF-8) and rename them into place
    together, once all are complete. On any failure nothing is replaced and the
    temporary files are removed; raises :class:`CommandError`."""
    pending: list[tuple[str, Path]] = []
    mode = _umask_mode()
    try:
        for path, content in files:
            target = Path(path).expanduser()
            data = content.encode("utf-8") if isinstance(content, str) else content
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            pending.append((tmp, target))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            # mkstemp makes 0600; the output gets the mode a plain open() would give it.
            os.chmod(tmp, mode)
        for tmp, target in pending:
            os.replace(tmp, target)
    except OSError as exc:
        for tmp, _target in pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        where = exc.filename or "an output file"
        raise CommandError(f"cannot write {where}: {exc.strerror or exc}") from None


def write_output(path: str | Path, content: str | bytes) -> None:
    """One output, written as :func:`write_outputs` writes several."""
    write_outputs([(path, content)])
