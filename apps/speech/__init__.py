"""Speech app: a frequency-axis CNN (Abdel-Hamid et al. 2014) on log-mel spectrograms."""
