"""``python -m jradi_desktop.cli``: the ``jradi`` command."""

import sys

from jradi_desktop.cli import main

sys.exit(main())
