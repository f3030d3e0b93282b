"""Allow ``python -m cvgraph``."""

import sys

from .cli import main

sys.exit(main())
