"""``python -m asr.cli`` runs the ``asr`` command."""

from asr.cli import cli

cli(prog_name="asr")
