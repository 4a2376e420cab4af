"""The default tolerances of ``compare`` and ``trace --expect``, apart from ``compare`` so that
the command line declares its options without importing the comparison code."""

RTOL = 1e-9
ATOL = 1e-12
