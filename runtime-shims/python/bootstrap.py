"""Entry point of Serval's Python runtime: puts the user's code first on sys.path and runs the loop."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# The script's own directory must not shadow user modules; the user's code comes first, ours last.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
sys.path.append(_HERE)

from serval_lambda_runtime.loop import main  # noqa: E402

if __name__ == "__main__":
    main()
