"""Log levels of third-party libraries: WARNING by default, everything with `verbose_logs` (`--verbose`).

Dask's `distributed` logs ~30 INFO lines per LocalCluster start, Evidently's statistics emit numpy
RuntimeWarnings on constant columns, and tqdm bars leave carriage-return debris in a log file: useful
when debugging those libraries, noise in a nightly's log.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

NOISY_LOGGERS = ("distributed", "evidently", "numexpr", "httpx", "urllib3", "transformers", "sentence_transformers")
# libraries whose numpy/scipy RuntimeWarnings (constant columns, empty slices) are expected, not news
NOISY_WARNING_MODULES = r"(evidently|scipy|numpy|pandas)(\..*)?"


def quiet_third_party(verbose: bool | None = None) -> int:
    """Set the third-party loggers to WARNING (or DEBUG when verbose); returns the level set.

    `verbose=None` reads `CHATREC_VERBOSE_LOGS` through Settings. Safe to call more than once.
    """
    if verbose is None:
        from chatrec.settings import Settings

        verbose = Settings().verbose_logs
    level = logging.DEBUG if verbose else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if verbose:
        os.environ.pop("TQDM_DISABLE", None)
        os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    else:
        os.environ["TQDM_DISABLE"] = "1"  # tqdm >= 4.66 reads it at each bar
        # transformers passes disable= explicitly to its bars (GGUF conversion, weight loading), so tqdm's
        # variable does not reach them: it reads huggingface_hub's switch when it is imported, or later
        # through its own API
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.disable_progress_bar()
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=NOISY_WARNING_MODULES)
        warnings.filterwarnings("ignore", category=FutureWarning, module=NOISY_WARNING_MODULES)
        # "Port 8787 is already in use ... Hosting the HTTP server on port N instead": another cluster's dashboard
        warnings.filterwarnings("ignore", category=UserWarning, module=r"distributed(\..*)?")
    return level
