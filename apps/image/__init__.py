"""Image app: MNIST / Fashion-MNIST classifiers (LeNet-5, a small VGG, a small ResNet)."""
