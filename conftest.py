"""Root pytest configuration: the whole test run, notebooks included, uses the quick mode."""

import os

os.environ["TINYCOMPRESS_QUICK"] = "1"
