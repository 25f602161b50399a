"""Entry point of ``python -m scans``."""

import sys

from scans.cli import main

sys.exit(main())
