"""asr: semi-supervised speech recognition and pronunciation assessment."""

__version__ = "0.1.0"
