"""``python -m statetrack`` is the ``statetrack`` command."""

import sys

from .cli import main

sys.exit(main())
