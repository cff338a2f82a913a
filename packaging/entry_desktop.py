"""PyInstaller entry point of the frozen ``jradi-desktop`` executable (see ``jradi.spec``).

``main`` calls ``multiprocessing.freeze_support()`` first: the inference worker is a spawned
child, i.e. this same executable started with ``--multiprocessing-fork``.
"""

import sys

from jradi_desktop.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
