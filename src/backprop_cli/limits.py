"""Limits shared by the command line and the config checker (documented in README), kept in a
module without heavy imports so that the command line can name them in its options."""

from __future__ import annotations

# Training steps of one run: the config's `steps:` and every --steps / --step option.
MAX_STEPS = 1_000_000
# The memory a run may need, estimated from the shapes before any math runs (--max-memory).
DEFAULT_MAX_MEMORY = 2 * 1024**3
