"""Writing BSM audit trails from Python.

Records can be given three ways, freely mixed in one :func:`write_trail` call:

* **as read**: :class:`~bsmtrail.Record` objects or raw record ``bytes`` are copied as
  they are (raw bytes must frame strictly: whole records or standalone file tokens);
* **as token dicts**: a list of dicts in exactly the schema ``Record.tokens`` produces,
  header first, trailer optional (byte counts are always computed), so
  ``parse -> dicts -> write`` round-trips;
* **built**: a :class:`RecordBuilder` with one method per token.

>>> import bsmtrail
>>> rec = (
...     RecordBuilder(event=72, time=(1_700_000_000, 250))
...     .arg(2, 0, "flags")
...     .path("/etc/passwd")
...     .subject(501, egid=20, pid=4242, sid=100004)
...     .return_(0, 3)
...     .build()
... )
>>> [t["type"] for t in bsmtrail.parse_record(rec).tokens]
['header32', 'arg32', 'path', 'subject32', 'return32', 'trailer']

**Strings.** A ``str`` is encoded as UTF-8 with ``surrogateescape`` (the reverse of the
decoder, so every decoded string gives its bytes back). Counted string fields (text, path,
zone, argument and UUID descriptions, file names, privilege strings, identity ids) get the
NUL that libbsm writes and the decoder drops; a ``bytes`` value is written verbatim, so
``b"no-nul"`` writes no NUL. String lists (exec args and env, Kerberos principals, cert
hashes) and socket-unix paths get the NUL their layout needs whatever the type, and may not
contain one.

**Numbers** are stored unsigned; negative values are taken as two's complement of the
field's width, so ``auid=-1`` writes 0xffffffff. **Addresses** are text (``"10.0.0.1"``,
``"2001:db8::1"``), 4 or 16 bytes, or :mod:`ipaddress` objects.

Errors raise :class:`EncodeError` (a :class:`ValueError`) with a stable ``reason`` code and
the ``record``, ``token`` and ``field`` where it happened.
"""

from __future__ import annotations

import ipaddress
import math
import os
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, Literal, TypeAlias

from . import _native
from ._native import Record
from .outputs import atomic_file, check_output

__all__ = [
    "Address",
    "EncodeError",
    "HeaderType",
    "RecordBuilder",
    "RecordLike",
    "TimeLike",
    "TokenDict",
    "WriteResult",
    "encode_record",
    "encode_token",
    "generate_trail",
    "write_trail",
]

HeaderType: TypeAlias = Literal["header32", "header32_ex", "header64", "header64_ex"]
#: An IP address: text, 4 or 16 packed bytes, or an :mod:`ipaddress` object.
Address: TypeAlias = str | bytes | ipaddress.IPv4Address | ipaddress.IPv6Address
#: A token as a dict, in the schema of ``Record.tokens`` (``type`` plus the fields).
TokenDict: TypeAlias = Mapping[str, Any]
#: A record time: a datetime (naive means UTC), seconds since the epoch (int or float),
#: or ``(seconds, milliseconds)``.
TimeLike: TypeAlias = datetime | int | float | tuple[int, int]
#: What :func:`write_trail` accepts for one item.
RecordLike: TypeAlias = (
    "Record | bytes | bytearray | memoryview | RecordBuilder | Sequence[TokenDict] | TokenDict"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class EncodeError(ValueError):
    """A record or token that cannot be written.

    ``reason``
        A stable snake_case code: ``missing_field``, ``bad_field``, ``out_of_range``,
        ``unknown_type``, ``id_mismatch``, ``address``, ``too_long``, ``str_list``,
        ``sock_unix_path``, ``bad_data_unit``, ``data_length``, ``missing_header``,
        ``misplaced_header``, ``misplaced_trailer``, ``record_too_large``,
        ``bad_record_bytes``, ``bad_item``, ``unreadable``.
    ``record``
        Index of the item in the ``records`` given to :func:`write_trail`, or ``None``.
    ``token``
        Index of the token in its record's token list, or ``None``.
    ``field``
        The dict key at fault, or ``None``.
    """

    def __init__(
        self,
        message: str,
        reason: str,
        record: int | None = None,
        token: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, reason, record, token, field)
        self.message = message
        self.reason = reason
        self.record = record
        self.token = token
        self.field = field

    def __str__(self) -> str:
        return self.message


def _encode_error(
    message: str, reason: str, record: int | None, token: int | None, field: str | None
) -> EncodeError:
    """Factory used by the native module."""
    return EncodeError(message, reason, record, token, field)


def encode_token(token: TokenDict) -> bytes:
    """The bytes of one token dict. A lone header or trailer takes its byte count from
    ``size`` (default 0), since it has no record around it."""
    return _native.encode_token(token)


def encode_record(tokens: Sequence[TokenDict]) -> bytes:
    """One record from token dicts: a header dict first (``size`` ignored), then body
    tokens, then optionally a trailer dict (ignored). The counts are computed, and the
    result is checked to read back."""
    return _native.encode_record(tokens)


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_trail` wrote."""

    records: int
    file_tokens: int
    bytes: int


def write_trail(
    dest: str | os.PathLike[str] | IO[bytes], records: Iterable[RecordLike]
) -> WriteResult:
    """Write ``records`` to ``dest``, a path or a binary file object.

    Each item is a :class:`~bsmtrail.Record` or raw ``bytes`` (copied as they are; bytes
    may hold several whole records and standalone file tokens), a :class:`RecordBuilder`,
    a list of token dicts (one record), a ``file`` token dict (a standalone file token,
    as auditd writes at the start and end of a trail), or a :class:`~bsmtrail.FileToken`
    read from a trail (its bytes as they were). ``write_trail(out, trail.items())`` copies
    a trail byte for byte. Iteration and encoding run in Rust;
    output reaches the file in 1 MiB writes.

    A path is written atomically: to a temporary file beside it, renamed into place only
    when every record was written. On error nothing is left at the path.
    """
    if isinstance(records, (bytes, bytearray, memoryview, str)):
        raise EncodeError(
            "records must be an iterable of records; to copy raw trail bytes, pass [data]",
            "bad_item",
        )
    if isinstance(dest, (str, os.PathLike)):
        check_output(dest, [])
        with atomic_file(dest) as tmp, open(tmp, "wb") as f:
            return WriteResult(*_native.write_records(f, records))
    return WriteResult(*_native.write_records(dest, records))


def generate_trail(path: str | os.PathLike[str], size_bytes: int, seed: int = 0) -> WriteResult:
    """Write a realistic generated trail of at least ``size_bytes`` bytes to ``path``.

    The same ``seed`` always gives the same bytes. The trail mixes five hosts (macOS,
    FreeBSD with IPv4 and IPv6 addresses, illumos with 64-bit tokens and zones), with
    file, exec, fork/exit, socket, sysctl/ioctl, set-id, signal, IPC, login and
    authorization events in realistic proportions, about 7% of them failing; every token
    type bsmtrail decodes appears in any trail of 64 KB or more. Runs in Rust without
    the GIL (several hundred MB/s). Written atomically, like :func:`write_trail`.
    """
    check_output(path, [])
    with atomic_file(path) as tmp:
        return WriteResult(*_native.generate_trail(tmp, size_bytes, seed))


def _split_time(t: TimeLike | None) -> tuple[int, int]:
    if t is None:
        ns = _time.time_ns()
        return ns // 1_000_000_000, ns % 1_000_000_000 // 1_000_000
    if isinstance(t, tuple):
        return int(t[0]), int(t[1])
    if isinstance(t, datetime):
        aware = t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
        delta = aware - _EPOCH
        return delta.days * 86_400 + delta.seconds, delta.microseconds // 1000
    if isinstance(t, float):
        if not math.isfinite(t):
            raise EncodeError(f"time {t} is not finite", "bad_field", field="time")
        seconds = math.floor(t)
        return seconds, min(999, int((t - seconds) * 1000))
    return int(t), 0


def _is_v6(addr: Address) -> bool:
    if isinstance(addr, str):
        return ":" in addr
    if isinstance(addr, bytes):
        return len(addr) == 16
    return addr.version == 6


class RecordBuilder:
    """Builds one record token by token; every method returns the builder, so calls
    chain, and :meth:`build` gives the bytes.

    ``header`` defaults to ``"header32"``, or ``"header32_ex"`` when ``host`` is given.
    ``time`` defaults to now. Token methods pick the 32-bit form unless ``bits=64`` is
    asked for, and the ``_ex`` form where an address needs it (an IPv6 terminal).
    """

    def __init__(
        self,
        event: int,
        *,
        time: TimeLike | None = None,
        header: HeaderType | None = None,
        host: Address | None = None,
        modifier: int = 0,
        version: int = 11,
    ) -> None:
        seconds, msec = _split_time(time)
        kind = header or ("header32_ex" if host is not None else "header32")
        head: dict[str, Any] = {
            "type": kind,
            "version": version,
            "event": event,
            "modifier": modifier,
            "seconds": seconds,
            "msec": msec,
        }
        if host is not None:
            head["host"] = host
        self._tokens: list[dict[str, Any]] = [head]

    @property
    def tokens(self) -> list[dict[str, Any]]:
        """The token dicts so far, header first (a copy)."""
        return [dict(t) for t in self._tokens]

    def token(self, token: TokenDict) -> RecordBuilder:
        """Append any token dict (schema of ``Record.tokens``)."""
        self._tokens.append(dict(token))
        return self

    def _add(self, type_: str, **fields: Any) -> RecordBuilder:
        self._tokens.append({"type": type_, **fields})
        return self

    def build(self) -> bytes:
        """The record's bytes, header and trailer counts filled in."""
        return _native.encode_record(self._tokens)

    def __repr__(self) -> str:
        kinds = ", ".join(str(t["type"]) for t in self._tokens)
        return f"<RecordBuilder [{kinds}]>"

    # -- subjects and processes -------------------------------------------------------

    def _who(
        self,
        name: str,
        auid: int,
        euid: int | None,
        egid: int,
        ruid: int | None,
        rgid: int | None,
        pid: int,
        sid: int,
        port: int,
        addr: Address,
        bits: Literal[32, 64],
        ex: bool | None,
    ) -> RecordBuilder:
        wide = bits == 64 or port > 0xFFFF_FFFF
        if ex is None:
            ex = _is_v6(addr)
        kind = f"{name}{64 if wide else 32}{'_ex' if ex else ''}"
        return self._add(
            kind,
            auid=auid,
            euid=auid if euid is None else euid,
            egid=egid,
            ruid=auid if ruid is None else ruid,
            rgid=egid if rgid is None else rgid,
            pid=pid,
            sid=sid,
            port=port,
            addr=addr,
        )

    def subject(
        self,
        auid: int,
        *,
        euid: int | None = None,
        egid: int = 0,
        ruid: int | None = None,
        rgid: int | None = None,
        pid: int = 0,
        sid: int = 0,
        port: int = 0,
        addr: Address = "0.0.0.0",
        bits: Literal[32, 64] = 32,
        ex: bool | None = None,
    ) -> RecordBuilder:
        """A subject token (the acting process). ``euid``/``ruid`` default to ``auid``,
        ``rgid`` to ``egid``; ``ex`` defaults to whether ``addr`` is IPv6."""
        return self._who("subject", auid, euid, egid, ruid, rgid, pid, sid, port, addr, bits, ex)

    def process(
        self,
        auid: int,
        *,
        euid: int | None = None,
        egid: int = 0,
        ruid: int | None = None,
        rgid: int | None = None,
        pid: int = 0,
        sid: int = 0,
        port: int = 0,
        addr: Address = "0.0.0.0",
        bits: Literal[32, 64] = 32,
        ex: bool | None = None,
    ) -> RecordBuilder:
        """A process token (the target of kill, ptrace, ...); fields as :meth:`subject`."""
        return self._who("process", auid, euid, egid, ruid, rgid, pid, sid, port, addr, bits, ex)

    # -- results ------------------------------------------------------------------------

    def return_(
        self, status: int = 0, value: int = 0, *, bits: Literal[32, 64] = 32
    ) -> RecordBuilder:
        """A return token: ``status`` is a BSM errno (0 = success), ``value`` the return
        value (``-1`` for a failed call)."""
        return self._add(f"return{bits}", status=status, value=value)

    def exit(self, status: int, value: int = 0) -> RecordBuilder:
        """An exit token (``au_to_exit(value, status)``)."""
        return self._add("exit", status=status, value=value)

    # -- strings --------------------------------------------------------------------------

    def path(self, path: str | bytes) -> RecordBuilder:
        return self._add("path", path=path)

    def text(self, text: str | bytes) -> RecordBuilder:
        return self._add("text", text=text)

    def zone(self, zone: str | bytes) -> RecordBuilder:
        return self._add("zonename", zone=zone)

    def opaque(self, data: bytes) -> RecordBuilder:
        return self._add("opaque", data=data)

    def exec_args(self, args: Iterable[str | bytes]) -> RecordBuilder:
        return self._add("exec_args", args=list(args))

    def exec_env(self, env: Iterable[str | bytes]) -> RecordBuilder:
        return self._add("exec_env", env=list(env))

    def arg(
        self, num: int, value: int, desc: str | bytes = "", *, bits: Literal[32, 64] = 32
    ) -> RecordBuilder:
        """An argument token: argument number, value and a description."""
        return self._add(f"arg{bits}", num=num, value=value, desc=desc)

    def arg_uuid(self, num: int, uuid: object, desc: str | bytes = "") -> RecordBuilder:
        """An arg_uuid token; ``uuid`` is a :class:`uuid.UUID`, its text or 16 bytes."""
        return self._add("arg_uuid", num=num, uuid=uuid, desc=desc)

    def ret_uuid(self, num: int, uuid: object, desc: str | bytes = "") -> RecordBuilder:
        return self._add("ret_uuid", num=num, uuid=uuid, desc=desc)

    def privset(self, set_name: str | bytes, privs: str | bytes) -> RecordBuilder:
        """A Solaris privilege-set token: the set's name and its privileges."""
        return self._add("privset", set=set_name, privs=privs)

    def upriv(self, success: bool, name: str | bytes) -> RecordBuilder:
        return self._add("upriv", success=int(success), name=name)

    def file(self, name: str | bytes, seconds: int, msec: int = 0) -> RecordBuilder:
        return self._add("file", name=name, seconds=seconds, msec=msec)

    # -- files, ids, IPC -----------------------------------------------------------------

    def attr(
        self,
        mode: int,
        uid: int,
        gid: int,
        fsid: int,
        nodeid: int,
        device: int,
        *,
        bits: Literal[32, 64] = 32,
    ) -> RecordBuilder:
        """An attribute token (the file's mode, owner, file system, inode, device)."""
        return self._add(
            f"attr{bits}", mode=mode, uid=uid, gid=gid, fsid=fsid, nodeid=nodeid, device=device
        )

    def groups(self, gids: Iterable[int]) -> RecordBuilder:
        """A groups token (at most 16 gids, as readers take)."""
        return self._add("groups", gids=list(gids))

    def seq(self, n: int) -> RecordBuilder:
        return self._add("seq", seq=n)

    def ipc(self, ipc_type: int, ipc_id: int) -> RecordBuilder:
        """An IPC token: type 1 message queue, 2 semaphore, 3 shared memory."""
        return self._add("ipc", ipc_type=ipc_type, ipc_id=ipc_id)

    def ipc_perm(
        self, uid: int, gid: int, cuid: int, cgid: int, mode: int, seq: int, key: int
    ) -> RecordBuilder:
        return self._add(
            "ipc_perm", uid=uid, gid=gid, cuid=cuid, cgid=cgid, mode=mode, seq=seq, key=key
        )

    def data(self, values: Iterable[int], *, unit: int = 0, print_format: int = 3) -> RecordBuilder:
        """An arbitrary-data token of ``values`` in units of ``unit`` (0 byte, 1 short,
        2 int, 3 int64; stored little-endian as readers expect), printed as
        ``print_format`` (0 binary, 1 octal, 2 decimal, 3 hex, 4 string)."""
        return self._add("arbitrary", print_format=print_format, unit=unit, values=list(values))

    # -- network ------------------------------------------------------------------------

    def in_addr(self, addr: Address) -> RecordBuilder:
        """An in_addr token, or in_addr_ex for an IPv6 address."""
        return self._add("in_addr_ex" if _is_v6(addr) else "in_addr", addr=addr)

    def iport(self, port: int) -> RecordBuilder:
        return self._add("iport", port=port)

    def socket(
        self, sock_type: int, lport: int, laddr: Address, rport: int, raddr: Address
    ) -> RecordBuilder:
        """The old IPv4 socket token (0x2e)."""
        return self._add(
            "socket", sock_type=sock_type, lport=lport, laddr=laddr, rport=rport, raddr=raddr
        )

    def socket_ex(
        self,
        domain: int,
        sock_type: int,
        lport: int,
        laddr: Address,
        rport: int,
        raddr: Address,
    ) -> RecordBuilder:
        """A socket_ex token (both addresses of one family)."""
        return self._add(
            "socket_ex",
            domain=domain,
            sock_type=sock_type,
            lport=lport,
            laddr=laddr,
            rport=rport,
            raddr=raddr,
        )

    def sock_inet(self, port: int, addr: Address, *, family: int | None = None) -> RecordBuilder:
        """A socket-inet token (sockinet32, or sockinet128 for IPv6). ``family`` is the
        writer's AF_* value: default 2 (AF_INET) or 28 (FreeBSD's AF_INET6)."""
        v6 = _is_v6(addr)
        fam = family if family is not None else (28 if v6 else 2)
        return self._add("sockinet128" if v6 else "sockinet32", family=fam, port=port, addr=addr)

    def sock_unix(self, path: str | bytes, *, family: int = 1) -> RecordBuilder:
        """A socket-unix token (at most 108 path bytes, no NUL)."""
        return self._add("sockunix", family=family, path=path)

    # -- Apple ----------------------------------------------------------------------------

    def identity(
        self,
        signing_id: str | bytes,
        cdhash: bytes,
        *,
        signer_type: int = 1,
        team_id: str | bytes = "",
        signing_id_truncated: bool = False,
        team_id_truncated: bool = False,
    ) -> RecordBuilder:
        """Apple's code-signing identity token (xnu puts it last, after the return)."""
        return self._add(
            "identity",
            signer_type=signer_type,
            signing_id=signing_id,
            signing_id_truncated=int(signing_id_truncated),
            team_id=team_id,
            team_id_truncated=int(team_id_truncated),
            cdhash=cdhash,
        )

    def krb5_principal(self, principals: Iterable[str | bytes]) -> RecordBuilder:
        return self._add("krb5_principal", principals=list(principals))

    def cert_hash(self, hashes: Iterable[str | bytes]) -> RecordBuilder:
        return self._add("cert_hash", hashes=list(hashes))
