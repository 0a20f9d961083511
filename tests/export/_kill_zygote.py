"""A pre-imported edgenas that forks one CLI run per request and can SIGKILL it at its Nth file event.

Started once by ``tests/export/test_kill_export.py`` (torch and the CLI import once, not per run).
Protocol: one JSON request per stdin line, ``{"args": [...], "cwd": DIR, "kill_at": [N, "before"|"after"]
or null, "log": FILE}``; one JSON reply per stdout line, ``{"signal": 9 or null, "code": exit code}``.
A file event is a call of ``os.replace`` / ``rename`` / ``mkdir`` / ``rmdir`` / ``unlink`` / ``remove``
or an ``open`` for writing; the child kills itself (SIGKILL, no cleanup of any kind) just before or
just after event N. A run that is not killed writes its events, one per line, to ``log``.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import signal
import sys


def _child(req: dict) -> None:
    os.chdir(req["cwd"])
    kill_at = req.get("kill_at")
    events: list[str] = []
    real_open = builtins.open

    def event(name: str, target: object, when: str) -> None:
        if when == "before":
            events.append(f"{name} {target}")
        if kill_at and kill_at[0] == len(events) and kill_at[1] == when:
            os.kill(os.getpid(), signal.SIGKILL)

    def hook(name: str, fn):
        def wrapped(*args, **kwargs):
            event(name, args[0] if args else "", "before")
            out = fn(*args, **kwargs)
            event(name, args[0] if args else "", "after")
            return out
        return wrapped

    for name in ("replace", "rename", "mkdir", "rmdir", "unlink", "remove"):
        setattr(os, name, hook(name, getattr(os, name)))

    def open_hook(file, mode="r", *args, **kwargs):
        if not any(c in mode for c in "wax+"):
            return real_open(file, mode, *args, **kwargs)
        event("open", file, "before")
        f = real_open(file, mode, *args, **kwargs)
        event("open", file, "after")
        return f

    builtins.open = io.open = open_hook
    from edgenas.cli import cli

    code = 0
    try:
        cli.main(req["args"], prog_name="edgenas")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a traceback is a failure the test reports
        import traceback

        traceback.print_exc()
        code = 99
    with real_open(req["log"], "w") as f:
        f.write("\n".join(events) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    import torch  # noqa: F401 - imported once here, before any fork (no torch threads started yet)

    import edgenas.cli  # noqa: F401
    import edgenas.cli.export_cmd  # noqa: F401
    import edgenas.export.bundle  # noqa: F401
    import edgenas.export.onnx  # noqa: F401

    for optional in ("onnx", "onnxruntime", "onnxsim"):  # what the export imports lazily
        try:
            __import__(optional)
        except ImportError:
            pass

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                sys.stdin.close()
                out = os.open(req["log"] + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(out, 1)
                os.dup2(out, 2)
                _child(req)
            finally:
                os._exit(98)
        _, status = os.waitpid(pid, 0)
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        print(json.dumps({"signal": sig, "code": code}), flush=True)


if __name__ == "__main__":
    main()
