"""PyInstaller entry point of ``jradi-engine`` in the ``full`` flavour (see ``jradi.spec``)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch data loaders and optuna workers may spawn
    from engine.cli import main

    sys.exit(main())
