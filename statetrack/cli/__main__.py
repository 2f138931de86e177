"""``python -m statetrack.cli`` is the ``statetrack`` command (as is ``python -m statetrack``)."""

import sys

from . import main

sys.exit(main())
