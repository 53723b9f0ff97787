"""Speech app: a frequency-axis CNN (Abdel-Hamid et al. 2014) on log-mel spectrograms."""

APP = "speech"  # the app name stored in its model files (shared.modelio)

# Named here, in the light package module, because the command line offers them as choices
# before anything heavy is imported.
DATASETS = ("fsdd", "commands", "timit")
ARCHITECTURES = ("freq", "freq-lws", "trad-fpool3", "ds-cnn", "residual")
FRONTENDS = ("log", "pcen")
