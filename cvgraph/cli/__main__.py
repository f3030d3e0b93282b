"""Allow ``python -m cvgraph.cli``."""

import sys

from . import main

sys.exit(main())
