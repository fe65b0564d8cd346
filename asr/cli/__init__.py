"""The ``asr`` command: one group per stage of the data path, each a thin layer over the library.

Mirrors the library as lhotse's CLI does: ``asr synth librispeech`` calls
:func:`data_prep.librispeech.synth_librispeech`, ``asr prepare l2arctic`` calls
:func:`asr.data.l2arctic.prepare_l2arctic`, and so on.
"""

from __future__ import annotations

import logging

import click

from asr.errors import UserError

#: Exceptions that mean the user gave bad input or the machine lacks a tool: shown as one line.
USER_ERRORS = (UserError, FileNotFoundError, NotADirectoryError)


class UserMistake(click.ClickException):
    """A user error shown as ``Error: <message>``; exit status 2, as click's own usage errors."""

    exit_code = 2


class _Group(click.Group):
    """A click group that turns user errors into one-line messages instead of tracebacks."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise UserMistake(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.version_option(package_name="asr")
def cli(verbose: bool) -> None:
    """Semi-supervised speech recognition and pronunciation assessment."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


from . import app, decode, export, finetune, lm, mdd, prepare, pretrain, probe, score, semi, synth, tokenizer  # noqa: E402  (subcommands register)

__all__ = [
    "app",
    "cli",
    "decode",
    "export",
    "finetune",
    "lm",
    "mdd",
    "prepare",
    "pretrain",
    "probe",
    "score",
    "semi",
    "synth",
    "tokenizer",
]
