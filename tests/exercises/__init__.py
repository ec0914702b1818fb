"""Tests of the exercise generator (``tinycompress.exercises``) and the gate on its copies."""
