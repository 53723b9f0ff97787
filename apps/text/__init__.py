"""Sentence classification with Kalchbrenner et al.'s DCNN and Kim's CNN."""

APP = "text"  # the app name stored in its model files (shared.modelio)

# Named here, in the light package module, because the command line offers them as choices
# before anything heavy is imported.
ARCHITECTURES = ("dcnn", "kim")
EMBEDDINGS = ("rand", "static", "nonstatic", "multichannel")
