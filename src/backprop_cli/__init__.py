"""backprop-cli: trace forward and backward passes step by step."""

__version__ = "0.1.0"
