"""``python -m tinycompress``: the same command line as ``tinycompress``."""

import sys

from .cli import main

sys.exit(main())
