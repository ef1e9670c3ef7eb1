"""A command line run in a fresh process per call, without paying for a fresh interpreter each time.

`ForkedCli(prelude, call)` starts one interpreter that runs `prelude` (the imports: torch and the
module under test, about a second) and then waits; each `run(*args)` forks it, and the child runs `call`
with `sys.argv[1:] == args`, its stdout and stderr going to files of its own, exactly as
`python -c "<prelude>; <call>" ARGS` would: a `SystemExit` gives the exit code, any other exception
prints its traceback and exits 1. No call sees another's state: every child starts from the interpreter
as the prelude left it. Returns a `subprocess.CompletedProcess` like `subprocess.run(..., text=True)`.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

_SERVER = r"""
import json, os, sys, traceback
namespace = {"__name__": "__main__"}  # the prelude's and the call's, as one `python -c` has
exec(compile(sys.argv[1], "<prelude>", "exec"), namespace)
call = compile(sys.argv[2], "<call>", "exec")
requests, replies = sys.stdin, os.fdopen(int(sys.argv[3]), "w")
for line in requests:
    request = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv = ["-c", *request["args"]]
        code = 0
        try:
            exec(call, namespace)
        except SystemExit as e:  # what the interpreter does with it
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    replies.write(json.dumps(os.waitstatus_to_exitcode(status)) + "\n")
    replies.flush()
os._exit(0)  # no requests left: nothing to finalise (an interpreter with torch takes a while to)
"""


class ForkedCli:
    def __init__(self, prelude: str, call: str, cwd: Path | str | None = None, timeout: float = 120) -> None:
        self.timeout = timeout
        self._dir = tempfile.TemporaryDirectory(prefix="forked-cli-")
        read, write = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, prelude, call, str(write)],
            cwd=cwd,
            stdin=subprocess.PIPE,
            pass_fds=(write,),
            text=True,
        )
        os.close(write)
        self._replies = os.fdopen(read)
        self._calls = 0

    def run(self, *args: str) -> subprocess.CompletedProcess:
        self._calls += 1
        out, err = (Path(self._dir.name) / f"{self._calls}.{name}" for name in ("out", "err"))
        assert self._proc.stdin is not None
        request = {"args": list(args), "stdout": str(out), "stderr": str(err)}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._replies], [], [], self.timeout)
        if not ready:
            self._proc.kill()
            raise subprocess.TimeoutExpired(["-c", *args], self.timeout)
        reply = self._replies.readline()
        if not reply:
            raise RuntimeError(f"the forking interpreter exited with code {self._proc.wait(self.timeout)}")
        return subprocess.CompletedProcess(["-c", *args], json.loads(reply), out.read_text(), err.read_text())

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=self.timeout)
        self._replies.close()
        self._dir.cleanup()


def python_m(cwd: Path | str | None = None, timeout: float = 120) -> ForkedCli:
    """`python -m MODULE ARGS` as `.run(MODULE, *ARGS)`: each call a fork of one interpreter that has
    imported torch (what every command of the project imports first, about a second), the module then
    imported and run as `__main__` by runpy, as `-m` does."""
    call = "import runpy, sys\nrunpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
    return ForkedCli("import torch", call, cwd=cwd, timeout=timeout)
