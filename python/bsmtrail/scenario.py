"""Trails with known truth for the sessions and processes views (``bsmtrail gen
--scenario``).

:func:`write_scenario` plays a small machine's life and writes its audit trail: daemons
with no audit user (cron forking jobs), ssh logins through sshd (fork, setaudit, login
record), a console login, shells forking and executing commands, a pipeline, su and sudo
escalations (euid 0, auid kept), a failed open, a network connect, pids handed out again
after an exit and while a process still looked alive, and a session left open at the
end. As it writes each record it keeps the truth the views must find, from the views'
definitions (docs: :mod:`bsmtrail.lineage`): every session's counts, login and logout,
processes, commands and ids, and every process's parent, execs in order and end.
The same seed gives the same bytes and the same truth."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

from .events import load_events
from .writer import RecordBuilder

__all__ = ["Truth", "write_scenario"]

#: The unset audit id (AU_DEFAUDITID).
UNSET = 0xFFFFFFFF


@dataclass
class Truth:
    """What the views must say. ``sessions`` maps (asid, auid or None) to the session's
    row fields; ``processes`` lists each process's fields in order of appearance."""

    sessions: dict[tuple[int, int | None], dict[str, Any]] = field(default_factory=dict)
    processes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The truth as JSON-ready data: sessions as a list (``asid`` and ``auid`` in
        each), id sets as sorted lists, ``pids`` as the ``processes`` count."""
        sessions = []
        for (asid, auid), row in self.sessions.items():
            out: dict[str, Any] = {"asid": asid, "auid": auid}
            for k, v in row.items():
                if k == "pids":
                    out["processes"] = len(v)
                else:
                    out[k] = sorted(v) if isinstance(v, set) else v
            sessions.append(out)
        return {"sessions": sessions, "processes": self.processes}


@dataclass
class _Proc:
    pid: int
    auid: int
    asid: int
    euid: int
    ruid: int
    port: int
    addr: str
    row: dict[str, Any]


class _Machine:
    def __init__(self, seed: int, start: float) -> None:
        self.db = load_events()
        self.rng = random.Random(seed)
        self.t = start
        self.out = bytearray()
        self.truth = Truth()
        self.alive: dict[int, _Proc] = {}
        self.next_pid = 300 + self.rng.randrange(100)

    def _event(self, name: str) -> int:
        number = self.db.number(name)
        if number is None:  # pragma: no cover - the bundled database has them all
            raise LookupError(name)
        return number

    def _row(
        self, p: _Proc, origin: str, parent: _Proc | None, *, now: bool = True
    ) -> dict[str, Any]:
        """A process's truth row, listed now or (``now`` false: a process first seen in
        a record of its own) at its first record."""
        row: dict[str, Any] = {
            "pid": p.pid,
            "ppid": None if parent is None else parent.pid,
            "parent": None if parent is None else parent.row["index"],
            "index": None,
            "origin": origin,
            "end_reason": None,
            "exit_status": None,
            "auid": None if p.auid == UNSET else p.auid,
            "asid": p.asid,
            "euid": p.euid,
            "execs": [],
            "records": 0,
            "failures": 0,
            "file_records": 0,
            "network_records": 0,
        }
        if now:
            self._list(row)
        return row

    def _list(self, row: dict[str, Any]) -> None:
        row["index"] = len(self.truth.processes)
        self.truth.processes.append(row)

    def _new(self, pid: int, like: _Proc, origin: str, parent: _Proc | None) -> _Proc:
        old = self.alive.get(pid)
        if old is not None:  # handed out again while it looked alive: it ended unaudited
            old.row["end_reason"] = "reused"
        p = _Proc(pid, like.auid, like.asid, like.euid, like.ruid, like.port, like.addr, {})
        p.row = self._row(p, origin, parent)
        self.alive[pid] = p
        return p

    def daemon(self, pid: int, euid: int = 0) -> _Proc:
        """A process running since before the trail (no audit user, asid 0)."""
        p = _Proc(pid, UNSET, 0, euid, euid, 0, "0.0.0.0", {})
        p.row = self._row(p, "seen", None, now=False)
        self.alive[pid] = p
        return p

    def pid(self) -> int:
        self.next_pid += 1 + self.rng.randrange(3)
        return self.next_pid

    def record(
        self,
        p: _Proc,
        event: str,
        *,
        status: int = 0,
        value: int = 0,
        paths: tuple[str, ...] = (),
        args: list[str] | None = None,
        exit_status: int | None = None,
        connect: tuple[str, int] | None = None,
        kind: str = "",
    ) -> None:
        self.t += self.rng.uniform(0.002, 0.4)
        seconds = int(self.t)
        b = RecordBuilder(self._event(event), time=(seconds, int((self.t - seconds) * 1000)))
        for path in paths:
            b.path(path)
        if args is not None:
            b.exec_args(args)
        if connect is not None:
            b.token({"type": "sockinet32", "family": 2, "port": connect[1], "addr": connect[0]})
        b.subject(
            p.auid,
            euid=p.euid,
            ruid=p.ruid,
            egid=0,
            pid=p.pid,
            sid=p.asid,
            port=p.port,
            addr=p.addr,
        )
        if exit_status is not None:
            b.exit(exit_status, 0)
        b.return_(status, value if status == 0 else -1 & 0xFFFFFFFF)
        self.out += b.build()
        key = (p.asid, None if p.auid == UNSET else p.auid)
        s = self.truth.sessions.setdefault(
            key,
            {
                "records": 0,
                "failures": 0,
                "login_event_name": None,
                "logout_event_name": None,
                "open": True,
                "tid_addr": p.addr,
                "tid_port": p.port,
                "pids": set(),
                "commands": 0,
                "first_commands": [],
                "euids": set(),
                "ruids": set(),
            },
        )
        s["records"] += 1
        s["failures"] += status != 0
        s["pids"].add(p.pid)
        s["euids"].add(p.euid)
        s["ruids"].add(p.ruid)
        if kind == "login" and s["login_event_name"] is None:
            s["login_event_name"] = event
        if kind == "logout":
            s["logout_event_name"] = event
            s["open"] = False
        if kind in ("exec", "spawn") and status == 0:
            s["commands"] += 1
            if len(s["first_commands"]) < 10:
                s["first_commands"].append(" ".join(args) if args else paths[0])
        row = p.row
        if row["index"] is None:
            # First seen in its own record: it appears, with that record's identity.
            row.update(auid=key[1], asid=p.asid, euid=p.euid)
            self._list(row)
        row["records"] += 1
        row["failures"] += status != 0
        row["file_records"] += kind == "file"
        row["network_records"] += kind == "network"

    # -- what processes do --------------------------------------------------------------

    def fork(self, parent: _Proc, event: str = "AUE_FORK", pid: int | None = None) -> _Proc:
        child = self.pid() if pid is None else pid
        self.record(parent, event, value=child, kind="fork")
        return self._new(child, parent, "fork", parent)

    def spawn(self, parent: _Proc, path: str, args: list[str]) -> _Proc:
        child = self.pid()
        self.record(parent, "AUE_POSIX_SPAWN", value=child, paths=(path,), args=args, kind="spawn")
        p = self._new(child, parent, "spawn", parent)
        p.row["execs"].append(self._exec(parent, path, args))
        return p

    @staticmethod
    def _exec(p: _Proc, path: str, args: list[str]) -> dict[str, Any]:
        auid = None if p.auid == UNSET else p.auid
        return {"path": path, "args": args, "auid": auid, "asid": p.asid, "euid": p.euid}

    def execve(self, p: _Proc, path: str, args: list[str], *, status: int = 0) -> None:
        self.record(p, "AUE_EXECVE", status=status, paths=(path,), args=args, kind="exec")
        if status == 0:
            p.row["execs"].append(self._exec(p, path, args))

    def exit(self, p: _Proc, status: int = 0) -> None:
        self.record(p, "AUE_EXIT", exit_status=status)
        p.row["end_reason"] = "exit"
        p.row["exit_status"] = status
        del self.alive[p.pid]

    def run(self, shell: _Proc, path: str, args: list[str], status: int = 0) -> _Proc:
        """The shell forks a child that executes ``args`` and exits."""
        child = self.fork(shell)
        self.execve(child, path, args)
        self.record(child, "AUE_OPEN_R", paths=(path,), kind="file")
        self.exit(child, status)
        return child

    # -- sessions -------------------------------------------------------------------------

    def ssh_login(self, sshd: _Proc, auid: int, asid: int, addr: str, port: int) -> _Proc:
        """sshd forks a child that becomes the user's session and forks their shell."""
        child = self.fork(sshd)
        self.record(child, "AUE_SETAUDIT_ADDR", kind="")
        child.auid, child.asid, child.euid, child.ruid = auid, asid, auid, auid
        child.addr, child.port = addr, port
        self.record(child, "AUE_openssh", kind="login")
        shell = self.fork(child)
        self.execve(shell, "/usr/local/bin/bash", ["-bash"])
        return shell

    def logout(self, p: _Proc) -> None:
        self.record(p, "AUE_logout", kind="logout")


def write_scenario(path: str | os.PathLike[str], seed: int = 0) -> Truth:
    """Write the scenario's trail to ``path`` (replaced) and return its truth."""
    m = _Machine(seed, start=1_700_000_000.0 + seed * 86_400)
    cron = m.daemon(120)
    sshd = m.daemon(88)
    # A cron job with no audit user: fork, exec, exit.
    job = m.fork(cron)
    m.execve(job, "/usr/libexec/atrun", ["/usr/libexec/atrun"])
    m.exit(job)
    # alice over ssh: commands, a pipeline, su to root, a failed open, then logout.
    sh = m.ssh_login(sshd, 501, 1001 + seed, "10.0.0.5", 52_000)
    session_parent = m.alive[sh.row["ppid"]]
    ls = m.run(sh, "/bin/ls", ["ls", "-l", "/tmp"])
    cat, grep = m.fork(sh), m.fork(sh)
    m.execve(cat, "/bin/cat", ["cat", "/etc/passwd"])
    m.execve(grep, "/usr/bin/grep", ["grep", "root"])
    m.exit(cat)
    m.exit(grep, 1)
    su = m.fork(sh)
    m.execve(su, "/usr/bin/su", ["su", "-"])
    su.euid = 0
    m.record(su, "AUE_su", kind="login")
    root = m.fork(su)
    m.execve(root, "/bin/sh", ["-sh"])
    m.record(root, "AUE_OPEN_R", status=13, paths=("/etc/master.passwd.lock",), kind="file")
    m.execve(root, "/usr/bin/missing", ["missing"], status=2)
    m.exit(root)
    m.exit(su)
    m.logout(session_parent)
    m.exit(sh)
    m.exit(session_parent)
    # bob at the console: login spawns his shell; sudo, a connect; left open at the end.
    login = m.daemon(60)
    login.auid, login.asid, login.euid, login.ruid = 502, 2002 + seed, 0, 0
    m.record(login, "AUE_login", kind="login")
    bsh = m.spawn(login, "/bin/zsh", ["-zsh"])
    bsh.euid, bsh.ruid = 502, 502
    m.record(bsh, "AUE_CONNECT", connect=("93.184.216.34", 443), kind="network")
    # The pid of alice's ls is handed out again: a new process.
    again = m.fork(bsh, pid=ls.pid)
    m.execve(again, "/usr/bin/sudo", ["sudo", "id"])
    again.euid = 0
    m.record(again, "AUE_sudo", kind="login")
    m.exit(again)
    # A second ssh session of alice, still open at the end, with a vfork.
    sh2 = m.ssh_login(sshd, 501, 3003 + seed, "10.0.0.6", 52_100)
    kid = m.fork(sh2, "AUE_VFORK")
    m.execve(kid, "/usr/bin/vi", ["vi", "notes.txt"])
    # cron forks again, and the new job's pid is one that never exited (still alive).
    m.fork(cron, pid=kid.pid)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as f:
        f.write(m.out)
    os.replace(tmp, path)
    return m.truth
