"""Settings for the whole test session."""

import os

# JAX's persistent compilation cache is off for the suite unless RMTFIT_JAX_CACHE names a folder:
# in two clean-clone runs of the full suite (slow tier included), XLA crashed (SIGSEGV, then
# SIGABRT) in deserialize_executable while tests/test_analysis.py read a program that an earlier
# test had written to the cache. Tests of the cache itself set RMTFIT_JAX_CACHE to a folder of
# their own; subprocesses inherit the setting.
os.environ.setdefault("RMTFIT_JAX_CACHE", "")
