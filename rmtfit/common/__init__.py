"""What every stage shares and no stage owns: settings, the progress bar, atomic file writes.

This package is the bottom layer of rmtfit (see ``docs/architecture.md``): it imports no other
part of rmtfit, and every stage may import it.

- :data:`__version__`, :data:`CI_PROB` (the one default credible-interval probability) and
  :func:`check_ci_prob`;
- :func:`enable_x64`: JAX's double precision, switched on explicitly by the entry points that
  run JAX (:func:`rmtfit.fit`, :func:`rmtfit.check_likelihood`, the JAX eigensolver), never as a
  side effect of an import;
- :class:`ProgressBar`: the one progress-bar helper (Rich, on stderr, hidden off a terminal);
- :func:`atomic_path`, :func:`write_text_atomic`, :func:`write_json_atomic`: no output file is
  ever left half written.
"""

from rmtfit.common.files import (
    atomic_path,
    dumps_json,
    jsonable,
    write_json_atomic,
    write_text_atomic,
)
from rmtfit.common.progress import ProgressBar
from rmtfit.common.settings import CI_PROB, __version__, check_ci_prob, enable_x64

__all__ = [
    "__version__",
    "CI_PROB",
    "check_ci_prob",
    "enable_x64",
    "ProgressBar",
    "atomic_path",
    "dumps_json",
    "jsonable",
    "write_json_atomic",
    "write_text_atomic",
]
