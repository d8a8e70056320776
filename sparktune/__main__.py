"""``python -m sparktune``: the ``sparktune`` command."""

import sys

from sparktune.jobs.cli import main

sys.exit(main())
