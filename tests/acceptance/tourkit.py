"""The README's tour as steps, and a terminal to paste them into (tests/acceptance/test_readme.py).

Each ```sh and ```python block of README.md follows a marker that says how a reader runs it:
one role per command, in order, or one role for every command of the block:

    <!-- tour: serve; serve-stop; skip (make test runs this check) -->

- `run`: paste it and wait for it; it must exit 0. A python block: the block as a script.
- `background`: it runs until stopped (a worker), as in a terminal of its own; it must still
  be running when the tour ends.
- `serve`: `make run`, in the background; the tour goes on once the server answers.
- `serve-stop`: another `make run`: wait until it answers, then stop it.
- `file` (python): the file its first line names (`# tasks.py`), written where the tour runs.
- `skip (why)`: not run, and the marker says why.

A sh or python block without a marker is an error: a new block is a decision, not a gap.
A sh block's commands are its lines, a line ending in a backslash joined to the next;
blank lines and comment lines separate them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.acceptance.conftest import alive, wait_until

MARKER = re.compile(r"<!--\s*tour:\s*(.*?)\s*-->")
FENCE = re.compile(r"```(\w*)\s*$")
ROLES = {
    "sh": {"run", "background", "serve", "serve-stop", "skip"},
    "python": {"run", "file", "skip"},
}


class TourError(Exception):
    """The README's markers do not say how to run a block."""


@dataclass(frozen=True)
class Step:
    line: int  # README.md line of the command's first line
    lang: str  # sh or python
    role: str  # one of ROLES[lang]
    text: str  # the command (a python block: the whole block) as written


@dataclass(frozen=True)
class Block:
    line: int  # the opening fence's line
    lang: str
    marker: str | None
    body: list[str]


def blocks(markdown: str) -> list[Block]:
    """Every fenced block, with the marker on the last non-blank line before its fence."""
    found: list[Block] = []
    marker: str | None = None
    opened: tuple[int, str, str | None] | None = None
    body: list[str] = []
    for number, line in enumerate(markdown.splitlines(), 1):
        if opened is not None:
            if line.startswith("```"):
                found.append(Block(opened[0], opened[1], opened[2], body))
                opened, marker = None, None
            else:
                body.append(line)
        elif fence := FENCE.match(line):
            opened, body = (number, fence[1], marker), []
        elif line.strip():
            mark = MARKER.fullmatch(line.strip())
            marker = mark[1] if mark else None
    return found


def commands(block: Block) -> list[tuple[int, str]]:
    """(README line, text) of each command of a sh block; a python block is one command."""
    if block.lang == "python":
        return [(block.line + 1, "\n".join(block.body) + "\n")]
    found: list[tuple[int, str]] = []
    current: list[str] = []
    for number, line in enumerate(block.body, block.line + 1):
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not current:
            start = number
        current.append(line)
        if not line.rstrip().endswith("\\"):
            found.append((start, "\n".join(current)))
            current = []
    return found


def roles(block: Block, count: int) -> list[str]:
    """The role of each of the block's `count` commands, as its marker gives them."""
    where = f"README.md line {block.line}"
    if block.marker is None:
        raise TourError(f"{where}: a {block.lang} block without a <!-- tour: ... --> marker")
    given = [role.strip() for role in re.split(r";(?![^()]*\))", block.marker)]  # not in (why)
    if len(given) == 1:
        given *= count
    if len(given) != count:
        raise TourError(f"{where}: the marker gives {len(given)} roles to {count} commands")
    kinds = [role.split(" ", 1)[0] for role in given]
    for role, kind in zip(given, kinds, strict=True):
        if kind not in ROLES[block.lang]:
            raise TourError(f"{where}: {kind!r} is not a role of a {block.lang} block")
        if kind == "skip" and not re.fullmatch(r"skip \(.+\)", role):
            raise TourError(f"{where}: a skip says why: skip (reason)")
    return kinds


def tour(markdown: str) -> list[Step]:
    """The steps of every sh and python block, in the README's order."""
    steps: list[Step] = []
    for block in blocks(markdown):
        if block.lang not in ROLES:
            continue
        found = commands(block)
        for (line, text), role in zip(found, roles(block, len(found)), strict=True):
            steps.append(Step(line, block.lang, role, text))
    return steps


# --- the terminal ---


@dataclass(frozen=True)
class Ran:
    command: str
    status: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {self.command}\n[exit {self.status}]\n{self.out}\n[stderr]\n{self.err}"


@dataclass(frozen=True)
class Started:
    command: str
    pid: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop([self.pid, *descendants(self.pid)])


class Terminal:
    """One `sh` that commands are pasted into, one at a time, as a reader does. Each command's
    stdin is /dev/null (none reads the rest of the script), its output goes to files."""

    def __init__(self, cwd: Path, env: dict[str, str], logs: Path) -> None:
        self.logs = logs
        self.count = 0
        self.started: list[Started] = []
        self._sh_log = (logs / "sh.log").open("wb")
        self.proc = subprocess.Popen(["sh"], stdin=subprocess.PIPE, stdout=self._sh_log,
                                     stderr=subprocess.STDOUT, cwd=cwd, env=env)  # fmt: skip

    def _paths(self, *names: str) -> list[Path]:
        self.count += 1
        return [self.logs / f"{self.count:02}.{name}" for name in names]

    def _send(self, script: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(script.encode())
        self.proc.stdin.flush()

    def _answer(self, path: Path, command: str, timeout: float) -> str:
        give_up = time.monotonic() + timeout
        while not path.exists():
            if self.proc.poll() is not None:
                log = (self.logs / "sh.log").read_text(errors="replace")
                raise AssertionError(f"sh exited {self.proc.returncode} at: {command}\n{log}")
            if time.monotonic() > give_up:
                raise AssertionError(f"still running after {timeout} s: {command}")
            time.sleep(0.02)
        return path.read_text().strip()

    def run(self, command: str, timeout: float = 60.0) -> Ran:
        """Run `command` in the foreground; its exit status and output."""
        out, err, status = self._paths("out", "err", "status")
        self._send(f"{{ {command}\n}} </dev/null >{q(out)} 2>{q(err)}\n{note('$?', status)}")
        code = int(self._answer(status, command, timeout))
        return Ran(command, code, out.read_text(errors="replace"), err.read_text(errors="replace"))

    def start(self, command: str, cwd: Path | None = None) -> Started:
        """Start `command` in the background (`&`), as in a terminal of its own (in `cwd`)."""
        log, pid = self._paths("log", "pid")
        cd = f"cd {q(cwd)} || exit\n" if cwd else ""  # a subshell's: the terminal's stays
        self._send(f"{{ {cd}{command}\n}} </dev/null >{q(log)} 2>&1 &\n{note('$!', pid)}")
        started = Started(command, int(self._answer(pid, command, 10)), log)
        self.started.append(started)
        return started

    def value(self, name: str) -> str:
        """The shell variable `name`, as the commands so far left it."""
        return self.run(f'printf %s "${name}"').out

    def close(self) -> None:
        """Stop what the commands started, then the shell."""
        stop(descendants(self.proc.pid))
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        self.proc.wait(10)
        self._sh_log.close()


def q(path: Path) -> str:
    return shlex.quote(str(path))


def note(value: str, path: Path) -> str:
    """The shell line that writes `value` to `path` whole (written aside, then renamed)."""
    return f"echo {value} >{q(path)}.tmp && mv {q(path)}.tmp {q(path)}\n"


def descendants(pid: int) -> list[int]:
    """The processes under `pid` (Linux /proc), parents before their children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(0), [])
        found += kids
        todo += kids
    return found


def stop(tree: list[int], grace: float = 15.0) -> None:
    """SIGTERM to the processes of `tree`, SIGKILL to those left after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for each in reversed(tree):
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, sig)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not any(alive(p) for p in tree), grace, "the tour's processes")
            return
