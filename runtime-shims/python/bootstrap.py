"""Entry point of Serval's Python runtime: puts the user's code first on sys.path and runs the loop."""
import importlib
import json
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
# The script's own directory must not shadow user modules; the user's code comes first, ours last.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.append(_HERE)

from serval_lambda_runtime.loop import main  # noqa: E402


def _specialise(fd):
    """A pre-started runtime (ADR-50) waits here, its own modules loaded and no function code yet, for the
    one line the agent writes on fd: the function's variables, its task root, and the variables we were
    started with. Those all go; what the process set itself at start stays (PWD, locale coercion's
    LC_CTYPE), as in a runtime started for the function."""
    os.set_blocking(fd, True)
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            sys.exit(0)  # the agent went away before giving us a function
        data += chunk
    os.close(fd)
    message = json.loads(data.decode("utf-8"))
    started = set(message["started"])
    own = {k: v for k, v in os.environ.items() if k not in started}
    if "PWD" in own:
        own["PWD"] = message["cwd"]
    os.chdir(message["cwd"])
    os.environ.clear()
    os.environ.update(own)
    os.environ.update(message["env"])
    if hasattr(time, "tzset"):
        time.tzset()
    # /opt/python and the like were empty when our modules loaded: forget that they had nothing to import.
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


if __name__ == "__main__":
    if os.environ.get("SERVAL_SPECIALISE_FD"):
        _specialise(int(os.environ["SERVAL_SPECIALISE_FD"]))
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    main()
