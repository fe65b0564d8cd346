"""``python -m asr.cli`` runs the ``asr`` command (and is what torchrun starts on every rank).

A torchrun worker ends with ``os._exit`` once the command has returned, skipping interpreter
finalisation. DistributedDataParallel keeps its gloo process group alive past
``destroy_process_group`` (its two ``pt_gloo_runloop`` threads are still running at exit), and
tearing the interpreter down under live gloo threads can abort the process ("terminate called
without an active exception", SIGABRT) after every file was written: torchrun then reports a
finished job as failed. Everything the commands write is closed by then (checkpoints are renamed
into place, the TensorBoard writer closed); the streams and log handlers are flushed here.
"""

import logging
import os
import sys

from asr.cli import cli


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message") prints the message and exits 1
    return 1


try:
    cli(prog_name="asr")
except SystemExit as done:
    if "TORCHELASTIC_RUN_ID" not in os.environ:  # not a torchrun worker: the usual exit
        raise
    status = _exit_code(done.code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
