"""Sentence classification with Kalchbrenner et al.'s DCNN and Kim's CNN."""

APP = "text"  # the app name stored in its model files (shared.modelio)
