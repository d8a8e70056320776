"""``python -m sparktune``: the ``sparktune`` command."""

import sys

from sparktune.cli import main

sys.exit(main())
