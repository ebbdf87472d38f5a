"""``python -m controller.cli``: the ``devicelab`` command (scripts and tests run it so)."""

import sys

from controller.cli import main

sys.exit(main())
