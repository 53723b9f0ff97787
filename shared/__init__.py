"""The common convolutional core of Beyond Pixels: layers, model builders,
training, evaluation, model files and visualization shared by every app."""
