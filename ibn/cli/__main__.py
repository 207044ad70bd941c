"""``python -m ibn.cli``: the ``ibn`` command line."""

import sys

from . import main

sys.exit(main())
