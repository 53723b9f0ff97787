"""Sentence classification with Kalchbrenner et al.'s DCNN and Kim's CNN."""
