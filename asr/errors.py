"""The base class of errors that mean "the user gave bad input" (or the machine lacks a tool).

The ``asr`` CLI shows these as one line naming the file or field, never as a traceback; the library raises
subclasses (:class:`asr.data.common.CorpusError`, :class:`asr.training.CheckpointError`, ...) so that callers
can catch one kind of mistake precisely. Kept free of heavy imports so the CLI can catch it cheaply.
"""


class UserError(Exception):
    """Bad input from the user (a file, a manifest, a setting): the message says which and why."""
