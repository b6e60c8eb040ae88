"""The ``idiscore`` command line (click + rich): ``deidentify``, ``explain``, ``profile``.

``run`` is the console-script entry point (``idiscore = "idiscore.cli:run"``); ``main`` is
the click command group it runs (for ``click.testing.CliRunner`` and embedding).
"""

import gc

from idiscore.cli.commands import main

__all__ = ["main", "run"]


def run() -> None:
    """Run the command, then let the interpreter exit quickly.

    Once the command is over nothing needs collecting: freezing the garbage collector
    spares the interpreter's exit one full scan of the heap (pydicom's dictionaries, the
    rule tables, the caches), about 40 ms of every command.
    """
    try:
        main()
    finally:
        gc.freeze()
