"""Settings for the whole test session."""

import atexit
import os
import shutil
import tempfile

# JAX's persistent compilation cache (and rmtfit's exported programs) go to a folder of this
# session, removed at its end, unless RMTFIT_JAX_CACHE names one (``""`` turns them off): a
# program compiled by one test is read back by the next that needs it, in this process and in
# the subprocesses of the CLI tests (they inherit the setting), and nothing is read that an
# earlier session or another checkout wrote. Tests of the cache set a folder of their own.
if "RMTFIT_JAX_CACHE" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="rmtfit-tests-jax-")
    os.environ["RMTFIT_JAX_CACHE"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
