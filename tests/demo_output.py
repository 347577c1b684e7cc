"""Reading what ``seleksi demo`` prints about its SKB part (the lines of
``exam_server.assessment.demo.skb_demo_lines``), for the demo's tests and the
SKB screenshot script, which log in with what a person would copy from it."""

from __future__ import annotations

import re


def skb_block(out: str) -> list[str]:
    """The printed SKB lines: its heading and the indented lines under it."""
    lines = out[out.index("SKB demo (") :].splitlines()
    block = [lines[0]]
    for line in lines[1:]:
        if not line.startswith("  "):
            break
        block.append(line)
    return block


def skb_accounts(out: str) -> dict[str, str]:
    """The printed assessors' usernames and passwords."""
    found = re.findall(
        r"^  assessor(?: chair)? +(\S+) +(\S+)  /skb-assessor\.html", out, flags=re.M
    )
    return dict(found)


def skb_candidates(out: str) -> list[list[str]]:
    """The printed scheduled candidates: registration number, receipt code
    (their proof on /skb-candidate.html, printed on the line under), state."""
    found = re.findall(
        r"^    (\d{8})  .+ WIB  (.+)\n      receipt: (SELEKSI-R1:\S+)$", out, flags=re.M
    )
    return [[regno, code, state] for regno, state, code in found]
