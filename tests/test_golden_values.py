"""Every record of every shared trail, decoded by bsmtrail, agrees with OpenBSM praudit.

praudit's raw one-line mode (``-rl``) prints every field of every token as a number or
plain text. This test formats bsmtrail's *decoded values* (the token dicts of the Python
API) with a small independent formatter written from the spec's -r rules
(docs/bsm-format.md §3-§4), and compares the line with praudit's golden output byte for
byte. It checks decoding (event, size, time, subject ids, return values, paths, texts,
args, every other field), not the Rust renderer, which has its own golden tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import bsmtrail


def _s(v: str) -> str:
    # praudit drops NUL bytes inside length-prefixed strings (§3.6).
    return v.replace("\x00", "")


def _signed32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _hexdump(b: bytes) -> str:
    # "0x" then two hex digits per byte; zero-length data prints nothing at all (§3.1).
    return "0x" + b.hex() if b else ""


def _alt_hex(v: int) -> str:
    return hex(v) if v else "0"


_DATA_WORDS = {0: "binary", 1: "octal", 2: "decimal", 3: "hex", 4: "string"}
_UNIT_NAMES = {0: "byte", 1: "short", 2: "int", 3: "int64"}


def _data_items(t: dict[str, Any]) -> str:
    pf = t["print_format"]
    out = []
    for v in t["values"]:
        low32 = v & 0xFFFFFFFF
        if pf == 0:
            out.append(" " + chr(v & 0xFF))
        elif pf == 1:
            out.append(f" {low32:o}")
        elif pf == 2:
            out.append(f" {_signed32(low32) if t['unit'] >= 2 else v}")
        elif pf == 3:
            out.append(f" {low32:x}")
        elif pf == 4:
            out.append(chr(v & 0xFF))
    return "".join(out)


def raw_fields(t: dict[str, Any]) -> list[str]:
    """The -r fields of one token, its id first."""
    ty = t["type"]
    f: list[Any] = [t["id"]]
    if ty in ("header32", "header64", "header32_ex", "header64_ex"):
        assert ty != "header32_ex", "header32_ex -r has praudit's printer bug; not in goldens"
        f += [t["size"], t["version"], t["event"], t["modifier"]]
        if ty == "header64_ex":
            f.append(t["host"] if t["host"] is not None else "invalid")
        f += [t["seconds"] & 0xFFFFFFFF, t["msec"] & 0xFFFFFFFF]
    elif ty == "trailer":
        f.append(t["size"])
    elif ty == "file":
        f += [t["seconds"], t["msec"], _s(t["name"])]
    elif ty == "arbitrary":
        word = _DATA_WORDS.get(t["print_format"])
        if word is None:
            return [str(t["id"])]
        f += [word, _UNIT_NAMES[t["unit"]], t["count"], _data_items(t)]
    elif ty == "ipc":
        f += [t["ipc_type"], t["ipc_id"]]
    elif ty in ("path", "text", "zonename"):
        f.append(_s(t[{"zonename": "zone"}.get(ty, ty)]))
    elif ty.startswith(("subject", "process")):
        f += [_signed32(t[k]) for k in ("auid", "euid", "egid", "ruid", "rgid")]
        f += [t["pid"], t["sid"], t["port"], t["addr"]]
    elif ty == "return32":
        f += [t["status"], t["value"]]
    elif ty == "return64":
        f += [t["status"], _signed64(t["value"])]
    elif ty == "exit":
        f += [f"Error {t['status']}", t["value"]]
    elif ty == "opaque":
        f += [len(t["data"]), _hexdump(t["data"])]
    elif ty in ("in_addr", "in_addr_ex"):
        f.append(t["addr"])
    elif ty == "ip":
        f += [
            f"0x{t['version_ihl']:02x}",
            f"0x{t['tos']:02x}",
            t["length"],
            t["ip_id"],
            t["frag_offset"],
            f"0x{t['ttl']:02x}",
            f"0x{t['protocol']:02x}",
            t["checksum"],
            t["src"],
            t["dst"],
        ]
    elif ty == "iport":
        f.append(_alt_hex(t["port"]))
    elif ty in ("arg32", "arg64"):
        f += [t["num"], hex(t["value"]), _s(t["desc"])]
    elif ty == "socket":
        f += [t["sock_type"], t["lport"], t["laddr"], t["rport"], t["raddr"]]
    elif ty == "socket_ex":
        f += [_alt_hex(t["domain"]), _alt_hex(t["sock_type"]), _alt_hex(t["lport"])]
        f += [t["laddr"], _alt_hex(t["rport"]), t["raddr"]]
    elif ty in ("sockinet32", "sockinet128", "sockunix"):
        f += [t["family"], t["port"] if ty != "sockunix" else t["path"]]
        if ty != "sockunix":
            f.append(t["addr"])
    elif ty == "seq":
        f.append(t["seq"])
    elif ty == "ipc_perm":
        f += [_signed32(t[k]) for k in ("uid", "gid", "cuid", "cgid")]
        f += [f"{t['mode']:o}", t["seq"], t["key"]]
    elif ty == "groups":
        f += [_signed32(g) for g in t["gids"]]
    elif ty in ("exec_args", "exec_env"):
        f += t["args" if ty == "exec_args" else "env"][:128]
    elif ty in ("attr32", "attr64"):
        f += [f"{t['mode']:o}", _signed32(t["uid"]), _signed32(t["gid"]), t["fsid"]]
        f += [_signed64(t["nodeid"]), t["device"]]
    elif ty in ("arg_uuid", "ret_uuid"):
        f += [t["num"], t["uuid"], _s(t["desc"])]
    elif ty == "privset":
        f += [_s(t["set"]), _s(t["privs"])]
    elif ty == "upriv":
        word = "successful use of priv" if t["success"] else "failed use of priv"
        f += [word, _s(t["name"])]
    else:
        raise AssertionError(f"no -r formatter for {ty}")
    return [str(x) for x in f]


def raw_line(tokens: list[dict[str, Any]]) -> bytes:
    text = "".join(",".join(raw_fields(t)) + "," for t in tokens)
    return text.encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("stem", ["apple", "openbsm", "execve-long-args", "reference-all"])
def test_every_record_matches_praudit_raw(
    stem: str, shared_trails: dict[str, Path], golden_dir: Path
) -> None:
    golden = (golden_dir / f"{stem}.rl.txt").read_bytes().split(b"\n")
    assert golden[-1] == b""
    golden = golden[:-1]
    trail = bsmtrail.open(shared_trails[stem])
    records = list(trail)
    files = trail.file_tokens()
    # praudit prints a standalone file token as its own line; these trails have none.
    assert files == []
    assert len(records) == len(golden)
    for rec, want in zip(records, golden, strict=False):
        toks = rec.tokens
        assert toks[0]["size"] == rec.size == len(rec.raw)
        got = raw_line(toks)
        assert got == want, f"record at offset {rec.offset}"


def test_header_fields_and_times(shared_trails: dict[str, Path]) -> None:
    rec = next(iter(bsmtrail.open(shared_trails["apple"])))
    assert (rec.event, rec.size, rec.version, rec.modifier) == (45029, 104, 11, 0)
    assert (rec.seconds, rec.msec) == (1383590180, 381)
    assert rec.time is not None
    assert rec.time.isoformat() == "2013-11-04T18:36:20.381000+00:00"
    assert rec.header_type == "header32"
    assert rec.host is None


def test_whole_trails_scan_clean(shared_trails: dict[str, Path]) -> None:
    expected = {"apple": 54, "openbsm": 50, "execve-long-args": 1, "reference-all": 56}
    for stem, path in shared_trails.items():
        s = bsmtrail.open(path).scan()
        assert s.ok, (stem, s.error)
        assert s.records == expected[stem]
        assert s.bytes == path.stat().st_size
