"""``devicelab run [-m module | script] ARGS...``: a Python program with ``import qai_hub``
resolving to devicelab.

The program runs in this interpreter (``runpy``), as ``python -m module`` or
``python script`` would run it, with ``controller.hub_shim`` active: nothing named
``qai_hub`` is installed, and a real one beside devicelab is untouched for every other
process. ``script`` may be a path or a console script on ``PATH`` (e.g.
``qai-hub-models``), which must be a Python file: a native program cannot be given a
module from this interpreter.

    devicelab run qai-hub-models export ./my_recipe --device "Samsung Galaxy S23"
    devicelab run -m my_package.export --device "Samsung Galaxy S23"
"""

from __future__ import annotations

import argparse
import runpy
import shutil
import sys
from pathlib import Path
from typing import Any

from controller import hub_shim
from controller.errors import UserError


def register(sub: Any) -> None:
    """Register ``run`` on the CLI's subparsers."""
    run = sub.add_parser(
        "run",
        help="run a Python program with `import qai_hub` resolving to devicelab",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    run.add_argument("-m", dest="module", metavar="MODULE", help="run a module, as python -m")
    run.add_argument(
        "program", nargs=argparse.REMAINDER, help="script (or console script) and ARGS"
    )
    run.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """The ``run`` command: the program's exit status."""
    argv = list(args.program)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if args.module:
        return run_module(args.module, argv)
    if not argv:
        raise UserError("devicelab run: name a script (or -m MODULE) to run")
    return run_script(argv[0], argv[1:])


def python_script(name: str) -> Path:
    """``name`` as a path, else the console script of that name on ``PATH`` or in this
    interpreter's ``bin`` directory.

    Raises:
        UserError: not found, or not a Python program (a native executable).
    """
    path = Path(name) if Path(name).is_file() else None
    # Also beside this interpreter: a venv's console scripts when it is not activated.
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    path = path or (Path(found) if found else None)
    if path is None:
        raise UserError(f"devicelab run: {name!r} is neither a file nor a program on PATH")
    with path.open("rb") as handle:
        head = handle.read(512)
    if b"\0" in head or (head.startswith(b"#!") and b"python" not in head.split(b"\n")[0]):
        raise UserError(
            f"devicelab run: {path} is not a Python program; it runs only Python programs, "
            "in its own interpreter (run a module with -m)"
        )
    return path


def run_script(name: str, argv: list[str]) -> int:
    """Run a Python script (or console script) with ``argv`` and the ``qai_hub`` alias."""
    path = python_script(name)
    return _run(lambda: runpy.run_path(str(path), run_name="__main__"), [str(path), *argv])


def run_module(module: str, argv: list[str]) -> int:
    """Run ``module`` as ``python -m module argv...`` would, with the ``qai_hub`` alias."""
    return _run(
        lambda: runpy.run_module(module, run_name="__main__", alter_sys=True), [module, *argv]
    )


def _run(target: Any, argv: list[str]) -> int:
    saved = sys.argv
    sys.argv = argv
    hub_shim.activate()
    try:
        target()
    except SystemExit as exc:
        return _exit_status(exc.code)
    finally:
        hub_shim.deactivate()
        sys.argv = saved
    return 0


def _exit_status(code: Any) -> int:
    """As the interpreter maps ``sys.exit(code)``: None is 0, a message is printed and 1."""
    if code is None or isinstance(code, int):
        return int(code or 0)
    print(code, file=sys.stderr)
    return 1
