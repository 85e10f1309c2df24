# SPDX-License-Identifier: MIT
"""memguard's incident benchmark (bench/run). Standard library only."""

SCHEMA = "memguard-bench/1"
