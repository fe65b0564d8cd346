"""Synthetic corpora in the exact on-disk formats of LibriSpeech, Libri-light and L2-ARCTIC.

Speech comes from espeak-ng (:mod:`asr.text.espeak`), text from the fortune files Debian ships
(real English sentences, thousands of words). Everything is deterministic for a seed: the same
seed writes byte-identical corpora.
"""
