"""Go: rules engine, AlphaGo's 48 feature planes, a GTP engine and the SGF data pipeline."""
