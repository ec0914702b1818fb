"""Tests of tinycompress.interop; those that need the optional extra skip without it."""

EXTRA_MISSING = "the interop extra is not installed: pip install -e '.[interop]'"
