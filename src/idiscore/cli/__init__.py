"""The ``idiscore`` command line (click + rich): ``deidentify``, ``explain``, ``profile``.

``main`` is the console-script entry point (``idiscore = "idiscore.cli:main"``).
"""

from idiscore.cli.commands import main

__all__ = ["main"]
