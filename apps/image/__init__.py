"""Image app: MNIST / Fashion-MNIST classifiers from LeNet-5 to ResNet, DenseNet, MobileNet and
ShuffleNet; FCN and U-Net segmentation."""

# Named here, in the light package module, because the command line offers them as choices
# before anything heavy is imported.
ARCHITECTURES = ("lenet5", "alexnet", "vgg", "resnet", "inception", "densenet", "highway", "mobilenet",
                 "mobilenetv2", "squeezenet", "shufflenet")
NORMS = ("batch", "layer", "instance", "group", "none")  # as shared.blocks.NORMS
