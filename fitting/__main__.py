"""``python -m fitting``: see :mod:`fitting.cli`."""

import sys

from fitting.cli import main

sys.exit(main())
