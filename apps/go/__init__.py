"""Go: rules engine, AlphaGo's 48 feature planes, a GTP engine and the SGF data pipeline."""

APP = "go"  # the app name stored in its model files (shared.modelio)

# Named here, in the light package module, because the command line offers them as choices
# before anything heavy is imported.
PRESETS = {  # name -> (convolutions in all, filters per hidden layer)
    "default": (6, 64),
    "alphago": (13, 192),
}
SCHEDULES = {  # name -> (batch size, learning rate)
    "modern": (64, 1e-3),
    "paper": (16, 0.003),
}
ARCHITECTURES = ("plain", "residual", "mobile")  # the policy's trunk: AlphaGo's, Cazenave's residual or mobile
RULES = ("chinese", "japanese")  # how the player ends games: area or territory scoring
