"""Following live audit data: ``/var/audit`` as auditd writes it, across rotations, or one
growing trail file, with a checkpoint so that a restart loses no record.

**auditd's layout** (OpenBSM's libauditd, FreeBSD and macOS): the trail being written is
``START.not_terminated`` (START a UTC ``YYYYMMDDhhmmss`` stamp), named by the symbolic
link ``current``. To rotate, auditd creates ``END.not_terminated`` empty, hands it to the
kernel (auditctl(2): from then on every record goes there; the kernel writes one file at a
time), then renames the old trail ``START.END`` and moves the link. A trail left behind by
a crash is renamed ``START.crash_recovery`` when auditd starts again. Trails can begin and
end with standalone file tokens.

So a followed trail is **finished** once a later trail exists and either that one has
received bytes or the followed one has been renamed or removed: the kernel has switched.
The finished trail is read to its end (a record cut there is damage) and following goes on
at the start of the next trail by start stamp. Renaming does not disturb the reader (it
keeps the file open).

**Framing.** Bytes read are framed incrementally (``StreamDecoder``, only to learn how far
they are decided: a record cut at the current end waits for its last byte, a header
claiming more than was written before later records is given up after a quiet poll); the
decided bytes then go through the Arrow stream every command uses (recover mode, the
selection judged in Rust), offsets as in the trail. Memory stays bounded by the read size
plus the largest record waited for.

**Checkpoint.** :class:`Follower` yields a :class:`LiveBatch` per piece of input decided;
the consumer writes its rows and then calls :meth:`Follower.commit`, which replaces the
checkpoint file atomically (written beside it, synced, renamed): trail, byte offset,
records and rows so far. Killed at any instant and restarted with the same checkpoint,
following resumes at the last committed offset: nothing is lost, and at most the batch
being written when it died comes again, with the same ``(source, offset)`` on each row.
A trail's ``source`` is the name auditd created it with, ``START.not_terminated``, whatever
it is called when read (``START.END`` after the rename, ``START.crash_recovery``): so
``(source, offset)`` names a record the same way whichever run read it, and when. A
checkpoint naming a trail that has been renamed is resumed in it (found by its start
stamp); one naming a trail that is gone resumes at the start of its successor, with a
:class:`~bsmtrail.BSMWarning`. A followed FILE is named as given; when it is replaced
(rotated) or truncated its offsets start over, so its next generation is named ``FILE#2``,
then ``FILE#3``, and ``(source, offset)`` never names two records.

Waiting never spins: a quiet poll costs a read, a ``stat`` of the directory and a sleep.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import _native
from .arrow import check_columns, stream
from .errors import BSMWarning
from .lazy import module as _mod
from .outputs import check_output, write_all
from .select import Selection
from .tally import DamageEntry, report_entries
from .trailset import parse_name
from .types import EventsOption
from .userdb import NamesArg, resolve_groups, resolve_users

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_CHUNK",
    "ROTATION_GRACE",
    "CheckpointError",
    "Follower",
    "LiveBatch",
    "Position",
    "Start",
    "checkpoint_load",
    "checkpoint_save",
    "created_name",
    "cut_unfinished_line",
    "trail_files",
]

#: Where following starts without a checkpoint: the live trail from its start
#: (``current``), the live trail from its end (``end``: only records written from now on),
#: or the oldest trail in the directory (``first``).
Start = Literal["current", "end", "first"]
#: Bytes read at once: each piece decided becomes one batch (and one checkpoint).
DEFAULT_CHUNK = 4 << 20
#: Seconds a followed FILE replaced at its path must stay quiet before it is let go.
ROTATION_GRACE = 2.0
CHECKPOINT_FORMAT = "bsmtrail-follow-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: not one of ours, or for another target."""


@dataclass(frozen=True)
class Position:
    """Where following stands: ``offset`` bytes into ``trail`` (its name as first
    opened; ``inode`` identifies the file), with ``records`` records framed and ``rows``
    rows handed out so far (over every run resumed from the same checkpoint)."""

    trail: str
    inode: int
    offset: int
    records: int = 0
    rows: int = 0


@dataclass(frozen=True)
class LiveBatch:
    """Bytes ``[start, end)`` of trail ``source``, decided: their rows (records view,
    the selection applied, offsets in the trail), what was damaged there, and the
    position to commit once the rows are written."""

    source: str
    start: int
    end: int
    batches: list[Any]
    damage: list[DamageEntry]
    position: Position
    records: int

    @property
    def rows(self) -> int:
        return sum(b.num_rows for b in self.batches)


# -- the checkpoint file ---------------------------------------------------------------------


def checkpoint_load(path: str, target: str) -> Position | None:
    """The position saved in checkpoint ``path`` for ``target`` (None: no file yet)."""
    try:
        with open(path, "rb") as f:
            text = f.read(1 << 16)
    except FileNotFoundError:
        return None
    try:
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a bsmtrail follow checkpoint")
        if d.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint version {d.get('version')!r} is not supported")
        pos = Position(
            trail=str(d["trail"]),
            inode=int(d["inode"]),
            offset=int(d["offset"]),
            records=int(d["records"]),
            rows=int(d["rows"]),
        )
        if min(pos.offset, pos.records, pos.rows) < 0 or not pos.trail:
            raise ValueError("out-of-range values")
        saved_for = str(d["target"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: unusable checkpoint: {e}") from None
    if saved_for != target:
        raise CheckpointError(f"{path}: checkpoint of another target ({saved_for}), not {target}")
    return pos


def checkpoint_save(path: str, target: str, pos: Position) -> None:
    """Replace checkpoint ``path`` atomically: written to ``PATH.tmp``, synced, renamed
    over it, the directory synced. Killed at any point, ``path`` holds the previous
    position or this one, never a mix (a fixed temporary name: a kill leaves no litter
    that grows)."""
    d = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "target": target,
        "trail": pos.trail,
        "inode": pos.inode,
        "offset": pos.offset,
        "records": pos.records,
        "rows": pos.rows,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    data = (json.dumps(d, indent=1) + "\n").encode()
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _sync_directory(os.path.dirname(os.path.abspath(path)))


def _sync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _lock(checkpoint: str) -> int:
    """Hold ``CHECKPOINT.lock`` exclusively while following: two followers resuming from
    and saving one checkpoint would each repeat or skip the other's batches. The lock is
    the kernel's (``flock``): it goes with the process, however that ends."""
    fd = os.open(checkpoint + ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CheckpointError(
            f"{checkpoint}: in use by another follower (its lock, {checkpoint}.lock, is held)"
        ) from None
    return fd


def cut_unfinished_line(fd: int) -> int:
    """If the regular file open on ``fd`` (for reading and writing) ends inside a line,
    cut that line off and return the bytes cut (0 otherwise, and for pipes, terminals and
    a descriptor open for writing only). A follower killed while writing leaves such a
    line; its records come again from the checkpoint, and a line reader never took the
    unfinished line."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return 0
    end = st.st_size
    try:
        if os.pread(fd, 1, end - 1) == b"\n":
            return 0
    except OSError as e:
        if e.errno == errno.EBADF:
            return 0  # not open for reading (a shell's >> redirection)
        raise
    keep = 0
    step = 1 << 16
    pos = end
    while pos > 0:
        start = max(0, pos - step)
        piece = os.pread(fd, pos - start, start)
        nl = piece.rfind(b"\n")
        if nl >= 0:
            keep = start + nl + 1
            break
        pos = start
    os.ftruncate(fd, keep)
    return end - keep


# -- trails in a directory -------------------------------------------------------------------


def trail_files(directory: str) -> list[str]:
    """auditd's trail files in ``directory`` (regular files, or links to them, named as
    :func:`bsmtrail.trailset.parse_name` reads auditd's names; compressed ones are closed
    and not followed), in the order they were written (start stamp, then name)."""
    found = []
    with os.scandir(directory) as it:
        for entry in it:
            parsed = parse_name(entry.name)
            if parsed is not None and not parsed.compressed and entry.is_file():
                found.append(parsed)
    return [t.name for t in sorted(found, key=lambda t: (t.start, t.name))]


def created_name(name: str) -> str:
    """The name auditd created trail ``name`` with (``START.not_terminated``): the
    ``source`` of its records, the same before and after it is renamed."""
    return f"{name[:14]}.not_terminated"


def _live_trail(directory: str, names: list[str]) -> str:
    """The trail auditd is writing: what ``current`` names, else the newest
    ``not_terminated`` trail, else the newest trail (``names`` holds at least one)."""
    try:
        linked = os.path.basename(os.readlink(os.path.join(directory, "current")))
    except OSError:
        linked = ""
    if linked in names:
        return linked
    open_ones = [n for n in names if n.endswith(".not_terminated")]
    if open_ones:
        return open_ones[-1]
    return names[-1]


# -- one trail being read --------------------------------------------------------------------


@dataclass
class _Open:
    """A trail file being read: ``source`` the name its records carry, ``path`` where it
    was found, the decoder over its bytes from trail offset ``origin``; bytes up to
    ``handed`` are handed out, up to ``read_to`` read and framed."""

    source: str
    path: str
    file: Any
    inode: int
    origin: int
    decoder: _native.StreamDecoder
    handed: int
    read_to: int
    #: Rows from records before this offset are not handed out (``start="end"``).
    quiet_until: int = 0
    #: When bytes last came (monotonic seconds): a replaced file is let go only once it
    #: has been quiet a while (a writer may still be finishing with it).
    last_data: float = 0.0

    def stamp(self) -> str:
        return self.source[:14]

    def read(self, size: int) -> bytes:
        """The next bytes of the file (b"" at its current end), framed."""
        data: bytes = self.file.read(size) or b""
        if data:
            self.last_data = time.monotonic()
            self.read_to += len(data)
            self.decoder.feed(data, keep=False)
        return data

    def take(self) -> tuple[int, bytes]:
        """The bytes decided since the last call, and their trail offset. They are read
        again from the file (the page cache has them): the decoder keeps only what it
        still waits on, and nothing else holds a copy."""
        decided = self.origin + self.decoder.position
        start = self.handed
        parts = []
        at = start
        while at < decided:
            piece = os.pread(self.file.fileno(), decided - at, at)
            if not piece:
                break  # cut short since it was read: what is missing is damage below
            parts.append(piece)
            at += len(piece)
        self.handed = decided
        return start, b"".join(parts)

    def close(self) -> None:
        self.file.close()


class Follower:
    """Iterate :class:`LiveBatch` es of a live trail directory (auditd's, followed across
    rotations) or of one growing trail file (a rotated path is drained, then the new
    file read from its start; a file truncated in place is read again from its start).

    ``checkpoint``: a file to resume from and to :meth:`commit` to. ``start`` applies
    without a checkpoint. ``where``, ``columns`` and ``events`` as for
    :func:`bsmtrail.read_trails` (``source`` and ``offset`` are always kept), and so are
    ``passwd`` and ``group`` (the subject's ids named as the evidence names them). A quiet
    input is polled every ``poll_interval`` seconds with ``sleep`` (``time.sleep`` by
    default; a caller can wake it early), and following ends when ``stop()`` returns
    true (checked between batches and before each sleep)."""

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        start: Start = "current",
        where: Selection | None = None,
        columns: Sequence[str] | None = None,
        events: EventsOption = None,
        passwd: NamesArg = None,
        group: NamesArg = None,
        poll_interval: float = 0.25,
        chunk_size: int = DEFAULT_CHUNK,
        max_record: int | None = None,
        threads: int | None = None,
        stop: Callable[[], bool] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        if start not in ("current", "end", "first"):
            raise ValueError(f"start must be 'current', 'end' or 'first', not {start!r}")
        if poll_interval <= 0 or chunk_size < 1:
            raise ValueError("poll_interval and chunk_size must be positive")
        #: The target as given: a followed file's ``source``.
        self.given = os.fspath(target)
        self.target = os.path.abspath(self.given)
        st = os.stat(self.target)  # FileNotFoundError names the target
        self.directory = stat.S_ISDIR(st.st_mode)
        if not self.directory and not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{target}: neither a directory nor a regular file")
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self._saved: Position | None = None
        if self.checkpoint is not None:
            check_output(self.checkpoint, [self.target])
            self._saved = checkpoint_load(self.checkpoint, self.target)
        self.start = start
        self.where = where
        self.columns = _with_place(columns)
        if self.columns is not None:
            # ValueError now, not at the first batch.
            check_columns(self.columns, events, passwd=passwd is not None, group=group is not None)
        # Read once: the files are the evidence's, not re-read per batch.
        self.passwd = None if passwd is None else resolve_users(passwd)
        self.group = None if group is None else resolve_groups(group)
        self.events = events
        self.poll_interval = poll_interval
        self.chunk_size = chunk_size
        self.max_record = max_record
        self.threads = threads
        self._stop = stop or (lambda: False)
        self._sleep = sleep or time.sleep
        self._records = 0
        self._rows = 0
        self._dir_mtime = -1
        self._names: list[str] = []
        self._position: Position | None = self._saved

    @property
    def position(self) -> Position | None:
        """The position last committed (or resumed from)."""
        return self._position

    def commit(self, batch: LiveBatch) -> None:
        """``batch``'s rows are written (and synced, if they must survive power loss):
        record its position in the checkpoint."""
        self._position = batch.position
        if self.checkpoint is not None:
            checkpoint_save(self.checkpoint, self.target, batch.position)

    # -- iteration ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[LiveBatch]:
        lock = None if self.checkpoint is None else _lock(self.checkpoint)
        try:
            yield from self._follow()
        finally:
            if lock is not None:
                os.close(lock)  # releases the lock

    def _follow(self) -> Iterator[LiveBatch]:
        cur = self._open_first()
        try:
            while not self._stop():
                if cur.read(self.chunk_size):
                    yield from self._decided(cur)
                    continue
                # Quiet: a record still waiting is given up if whole records came after it.
                cur.decoder.settle(keep=False)
                if cur.handed < cur.origin + cur.decoder.position:
                    yield from self._decided(cur)
                    continue
                nxt = self._next_file(cur)
                if nxt is not None:
                    try:
                        yield from self._finish(cur, nxt)
                    except BaseException:
                        nxt.close()
                        raise
                    cur.close()
                    cur = nxt
                    continue
                if self._stop():
                    break
                self._sleep(self.poll_interval)
        finally:
            cur.close()

    def _decided(self, cur: _Open, after: _Open | None = None) -> Iterator[LiveBatch]:
        start, region = cur.take()
        if not region and after is None:
            return
        yield self._batch(cur, start, region, after)

    def _finish(self, cur: _Open, nxt: _Open) -> Iterator[LiveBatch]:
        """``cur`` is finished: read it to its end, give up what is still waiting
        (damage), and hand out the rest with the position at the start of ``nxt``."""
        while cur.read(self.chunk_size):
            yield from self._decided(cur)
        cur.decoder.finish(keep=False)
        yield from self._decided(cur, after=nxt)

    def _batch(self, cur: _Open, start: int, region: bytes, after: _Open | None) -> LiveBatch:
        batches: list[Any] = []
        damage: list[DamageEntry] = []
        records = 0
        if region and start + len(region) > cur.quiet_until:
            piece = _native.TrailSlice(region, 0, len(region), offset=start)
            s = stream(
                [(cur.source, piece)],
                columns=self.columns,
                events=self.events,
                where=self.where,
                threads=self.threads,
                passwd=self.passwd,
                group=self.group,
            )
            batches = [b for b in s if b.num_rows]
            for r in s.report():
                records += r.records
                damage += report_entries(r)
            if cur.quiet_until > start:  # start="end": only what comes after
                batches = _from(batches, cur.quiet_until)
                damage = [d for d in damage if d.offset >= cur.quiet_until]
        self._records += records
        rows = sum(b.num_rows for b in batches)
        self._rows += rows
        at = after if after is not None else cur
        position = Position(
            trail=at.source,
            inode=at.inode,
            offset=at.handed if after is None else at.origin,
            records=self._records,
            rows=self._rows,
        )
        damage.sort(key=lambda d: d.offset)
        return LiveBatch(cur.source, start, start + len(region), batches, damage, position, records)

    # -- which file ---------------------------------------------------------------------------

    def _open(self, source: str, path: str, offset: int, quiet_until: int = 0) -> _Open:
        return self._adopt(source, path, _opened(path), offset, quiet_until)

    def _open_trail(self, name: str) -> tuple[str, tuple[Any, os.stat_result]]:
        """Trail ``name`` of the directory opened for reading (with its status), and the path
        it was opened at. auditd renames a trail when it closes it
        (``START.not_terminated`` becomes ``START.END``), which can fall between a listing
        and this open: a name that is gone is looked up again by its start stamp, which the
        rename keeps."""
        tries = 3
        while True:
            path = os.path.join(self.target, name)
            try:
                return path, _opened(path)
            except FileNotFoundError:
                tries -= 1
                same = [n for n in self._list(force=True) if n[:14] == name[:14]]
                if not same or not tries:
                    raise
                name = same[0]

    def _adopt(
        self,
        source: str,
        path: str,
        opened: tuple[Any, os.stat_result],
        offset: int,
        quiet_until: int = 0,
    ) -> _Open:
        """The file ``opened`` at ``path`` read from trail offset ``offset``; closed on
        error."""
        f, st = opened
        try:
            if offset:
                f.seek(offset)
        except BaseException:
            f.close()
            raise
        return _Open(
            source=source,
            path=path,
            file=f,
            inode=st.st_ino,
            origin=offset,
            decoder=_native.StreamDecoder(max_record=self.max_record),
            handed=offset,
            read_to=offset,
            quiet_until=quiet_until,
        )

    def _list(self, *, force: bool = False) -> list[str]:
        """The trail names, listed again only when the directory changed (or changed
        lately: a coarse time stamp can hide a second change within its tick)."""
        mtime = os.stat(self.target).st_mtime_ns
        if force or mtime != self._dir_mtime or time.time_ns() - mtime < 2_000_000_000:
            self._dir_mtime = mtime
            self._names = trail_files(self.target)
        return self._names

    def _open_first(self) -> _Open:
        saved = self._saved
        if saved is not None:
            self._records, self._rows = saved.records, saved.rows
            return self._resume(saved)
        if not self.directory:
            size = os.stat(self.target).st_size
            name = self.given
            quiet = size if self.start == "end" else 0
            return self._open(name, self.target, 0, quiet)
        names = self._list(force=True)
        if not names:
            raise FileNotFoundError(
                2, "no auditd trail (YYYYMMDDhhmmss.*) in the directory", self.target
            )
        name = names[0] if self.start == "first" else _live_trail(self.target, names)
        path, opened = self._open_trail(name)
        quiet = opened[1].st_size if self.start == "end" else 0
        return self._adopt(created_name(name), path, opened, 0, quiet)

    def _resume(self, saved: Position) -> _Open:
        if not self.directory:
            st = os.stat(self.target)
            source = saved.trail
            if st.st_ino != saved.inode:
                _note(
                    f"{self.target} is another file than the checkpoint's (rotated while "
                    f"not followed): read from its start; the rest of the previous file "
                    f"after offset {saved.offset} was not read"
                )
                return self._open(_next_generation(source), self.target, 0)
            if st.st_size < saved.offset:
                _note(
                    f"{self.target} is shorter ({st.st_size} bytes) than the checkpoint's "
                    f"offset {saved.offset} (truncated): read from its start"
                )
                return self._open(_next_generation(source), self.target, 0)
            return self._open(source, self.target, saved.offset)
        names = self._list(force=True)
        stamp = saved.trail[:14]
        same = [n for n in names if n[:14] == stamp]
        if same:
            path, opened = self._open_trail(same[0])
            size = opened[1].st_size
            if size < saved.offset:
                _note(
                    f"{os.path.basename(path)} is shorter ({size} bytes) than the "
                    f"checkpoint's offset {saved.offset}: read from its start"
                )
                return self._adopt(saved.trail, path, opened, 0)
            return self._adopt(saved.trail, path, opened, saved.offset)
        later = [n for n in names if n[:14] > stamp]
        if not later:
            raise CheckpointError(
                f"{self.checkpoint}: the checkpoint's trail {saved.trail} is gone and no "
                f"later trail is in {self.target}"
            )
        _note(
            f"the checkpoint's trail {saved.trail} is gone: following goes on at the start "
            f"of {later[0]} (what it held after offset {saved.offset} was not read)"
        )
        path, opened = self._open_trail(later[0])
        return self._adopt(created_name(later[0]), path, opened, 0)

    def _next_file(self, cur: _Open) -> _Open | None:
        """The file to read after ``cur`` once ``cur`` is finished (None: not yet)."""
        if not self.directory:
            return self._reopened(cur)
        later = [n for n in self._list() if n[:14] > cur.stamp()]
        if not later:
            return None
        try:
            path, opened = self._open_trail(later[0])
        except FileNotFoundError:
            self._dir_mtime = -1  # listed a moment ago and gone since; look again next poll
            return None
        still_open = cur.path.endswith(".not_terminated") and _same_file(cur.path, cur.inode)
        if still_open and opened[1].st_size == 0:
            # auditd has created the next trail but the kernel may still be writing here:
            # it switches before the old trail is renamed.
            opened[0].close()
            return None
        return self._adopt(created_name(later[0]), path, opened, 0)

    def _reopened(self, cur: _Open) -> _Open | None:
        """One followed file: the path now names another file (rotated: the old one is
        read until it has been quiet for :data:`ROTATION_GRACE` seconds, since a writer
        may append to it until it reopens the path), or this one was truncated in place
        (read again from its start)."""
        try:
            st = os.stat(self.target)
        except FileNotFoundError:
            return None  # moved away, the new one not created yet
        if st.st_ino != cur.inode:
            quiet = time.monotonic() - cur.last_data
            if quiet < max(ROTATION_GRACE, 2 * self.poll_interval):
                return None
            return self._open(_next_generation(cur.source), self.target, 0)
        if st.st_size < cur.read_to:
            _note(
                f"{self.target} was truncated to {st.st_size} bytes: read again from its "
                f"start (offsets start over)"
            )
            return self._open(_next_generation(cur.source), self.target, 0)
        return None


def _next_generation(source: str) -> str:
    """The ``source`` of a followed file's next generation (after it was replaced or
    truncated, its offsets start over): ``FILE#2``, ``FILE#3``, ... so ``(source,
    offset)`` never names two records."""
    m = re.fullmatch(r"(.*)#(\d+)", source)
    if m is None:
        return f"{source}#2"
    return f"{m.group(1)}#{int(m.group(2)) + 1}"


def _opened(path: str) -> tuple[Any, os.stat_result]:
    """``path`` opened for reading, unbuffered, and its status (closed on error)."""
    f = open(path, "rb", buffering=0)
    try:
        return f, os.fstat(f.fileno())
    except BaseException:
        f.close()
        raise


def _same_file(path: str, inode: int) -> bool:
    try:
        return os.stat(path).st_ino == inode
    except FileNotFoundError:
        return False


def _with_place(columns: Sequence[str] | None) -> list[str] | None:
    """``columns`` with ``source`` and ``record_offset`` first (every line says where it
    came from)."""
    if columns is None:
        return None
    rest = [c for c in columns if c not in ("source", "record_offset")]
    return ["source", "record_offset", *rest]


def _from(batches: list[Any], offset: int) -> list[Any]:
    pc = _mod("pyarrow.compute")
    out = []
    for b in batches:
        kept = b.filter(pc.greater_equal(b.column("record_offset"), offset))
        if kept.num_rows:
            out.append(kept)
    return out


def _note(message: str) -> None:
    warnings.warn(message, BSMWarning, stacklevel=4)
