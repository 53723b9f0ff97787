"""Speech app: a frequency-axis CNN (Abdel-Hamid et al. 2014) on log-mel spectrograms."""

APP = "speech"  # the app name stored in its model files (shared.modelio)
