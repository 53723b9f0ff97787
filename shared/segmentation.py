"""Fully convolutional networks for dense labelling: one class per pixel.

A classifier pools its feature maps away and ends in dense layers, so it gives one
label per picture. A network made only of convolutions, pooling and upsampling
takes any picture size and gives a label map: these builders return Keras models
from (H, W, C) pictures to (H, W, num_classes) per-pixel softmax probabilities
(float32, also under mixed precision). Pooling makes the features coarse and
semantic; two ideas bring the resolution back:

- upsampling by *transposed convolution* (Conv2DTranspose): a learned upsampling
  filter, initialised here to bilinear interpolation (Long et al.), rather than a
  fixed resize, so the network learns how coarse scores spread to pixels;
- *skip connections*: feature maps from the encoder's earlier, finer stages are
  brought to the decoder, restoring the spatial detail (edges, thin strokes) that
  pooling discarded.

`build_fcn`: FCN (Long, Shelhamer & Darrell 2015, "Fully Convolutional Networks for
Semantic Segmentation"). A VGG-like encoder of `depth` conv stages, each ending in
2x2 max pooling; a 3x3 conv standing in for the paper's convolutionalised fc6/fc7;
a 1x1 conv classifier that scores every class at every position of the coarsest
grid. The scores are upsampled 2x by a transposed conv and added to 1x1-conv scores
of the previous pooling stage (zero-initialised, so training starts from the coarse
net), `skips` times; a last transposed conv upsamples to the input size. With five
stages, `skips=0/1/2` are the paper's FCN-32s/16s/8s; the default, three stages and
two skips, fuses down to stride 2 for 64x64 inputs.

`build_unet`: U-Net (Ronneberger, Fischer & Brox 2015). A contracting path of
`depth` stages of conv-conv-pool (filters doubling), a conv-conv bottleneck, and an
expanding path that mirrors it: a 2x2 up-convolution (Conv2DTranspose, stride 2)
halving the filters, concatenated with the encoder features of the same
resolution, then conv-conv; a final 1x1 conv gives the class scores. Unlike the
paper's unpadded convolutions (which need overlapping tiles and cropped skips),
the 3x3 convs are "same"-padded so the output has the input's size.

Pixels enter in 0..`input_scale` and are rescaled to 0..1 inside the model. The
class scores before the softmax are the output of the layer named `logits`.
"""
import keras
import numpy as np
from keras import layers

from shared.builders import ConvSpec, conv_block


def _check_size(input_shape, depth):
    factor = 2 ** depth
    if depth < 1 or any(side is not None and side % factor for side in input_shape[:2]):
        raise ValueError(f"input sides {tuple(input_shape[:2])} must be multiples of 2**depth = {factor} "
                         f"(depth {depth} >= 1)")


def _inputs(input_shape, input_scale):
    inputs = keras.Input(shape=input_shape, name="input")
    return inputs, layers.Rescaling(1.0 / input_scale, name="rescale")(inputs)


def _softmax(logits):
    return layers.Activation("softmax", dtype="float32", name="softmax")(logits)


def bilinear_kernel(kernel_size, channels):
    """A (k, k, channels, channels) Conv2DTranspose kernel that upsamples each channel by
    bilinear interpolation (factor k / 2) and does not mix channels."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    ramp = 1 - np.abs(np.arange(kernel_size) - center) / factor
    kernel = np.zeros((kernel_size, kernel_size, channels, channels), np.float32)
    for c in range(channels):
        kernel[:, :, c, c] = np.outer(ramp, ramp)
    return kernel


def _upsample(x, channels, factor, name):
    """Learned upsampling by `factor`: Conv2DTranspose(kernel 2*factor, stride factor),
    no bias, its kernel set to bilinear interpolation once built (then trained)."""
    layer = layers.Conv2DTranspose(channels, 2 * factor, strides=factor, padding="same", use_bias=False, name=name)
    y = layer(x)
    layer.set_weights([bilinear_kernel(2 * factor, channels)])
    return y


def build_fcn(input_shape, num_classes, *, width=16, depth=3, convs_per_stage=2, skips=2, batch_norm=False,
              input_scale=255.0, name="fcn"):
    """FCN: encoder stage i has `convs_per_stage` 3x3 convs of width * 2**i filters and a 2x2
    max pool; a 3x3 conv of width * 2**depth filters (fc6/7); 1x1 class scores; `skips`
    (0..depth-1) 2x up-convolutions each fused (added) with 1x1 scores of the next finer
    pooling stage; a final up-convolution by 2**(depth - skips) to the input size."""
    _check_size(input_shape, depth)
    if not 0 <= skips < depth:
        raise ValueError(f"skips must be in 0..{depth - 1} (one per pooling stage before the last), got {skips}")
    inputs, x = _inputs(input_shape, input_scale)
    pooled = []
    for stage in range(depth):
        for i in range(convs_per_stage):
            last = i == convs_per_stage - 1
            x = conv_block(x, ConvSpec(width * 2 ** stage, 3, batch_norm=batch_norm, pool="max" if last else None),
                           f"enc{stage + 1}_{i + 1}")
        pooled.append(x)
    x = conv_block(x, ConvSpec(width * 2 ** depth, 3, batch_norm=batch_norm), "fc")
    scores = layers.Conv2D(num_classes, 1, name="score")(x)
    for skip in range(skips):
        finer = pooled[depth - 2 - skip]
        up = _upsample(scores, num_classes, 2, f"up{skip + 1}")
        # zero-initialised: the fused net starts as the coarser one (Long et al., section 4.2)
        side = layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name=f"score_pool{depth - 1 - skip}")(finer)
        scores = layers.Add(name=f"fuse{skip + 1}")([up, side])
    factor = 2 ** (depth - skips)
    scores = _upsample(scores, num_classes, factor, "up_final")
    logits = layers.Identity(name="logits")(scores)
    return keras.Model(inputs, _softmax(logits), name=name)


def build_unet(input_shape, num_classes, *, width=16, depth=3, batch_norm=False, input_scale=255.0, name="unet"):
    """U-Net: `depth` contracting stages (two 3x3 convs of width * 2**i filters, 2x2 max pool),
    a bottleneck of two 3x3 convs of width * 2**depth, `depth` expanding stages (2x2
    up-convolution to width * 2**i filters, concatenated with that stage's encoder output,
    two 3x3 convs), a 1x1 conv to the class scores."""
    _check_size(input_shape, depth)
    inputs, x = _inputs(input_shape, input_scale)
    skips = []
    for stage in range(depth):
        x = conv_block(x, ConvSpec(width * 2 ** stage, 3, batch_norm=batch_norm), f"down{stage + 1}_1")
        x = conv_block(x, ConvSpec(width * 2 ** stage, 3, batch_norm=batch_norm), f"down{stage + 1}_2")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{stage + 1}_pool")(x)
    x = conv_block(x, ConvSpec(width * 2 ** depth, 3, batch_norm=batch_norm), "bottom_1")
    x = conv_block(x, ConvSpec(width * 2 ** depth, 3, batch_norm=batch_norm), "bottom_2")
    for stage in reversed(range(depth)):
        filters = width * 2 ** stage
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"up{stage + 1}_upconv")(x)
        x = layers.Concatenate(name=f"up{stage + 1}_concat")([x, skips[stage]])
        x = conv_block(x, ConvSpec(filters, 3, batch_norm=batch_norm), f"up{stage + 1}_1")
        x = conv_block(x, ConvSpec(filters, 3, batch_norm=batch_norm), f"up{stage + 1}_2")
    logits = layers.Conv2D(num_classes, 1, name="logits")(x)
    return keras.Model(inputs, _softmax(logits), name=name)


ARCHITECTURES = {"fcn": build_fcn, "unet": build_unet}


def build_segmenter(arch, input_shape, num_classes, **options):
    """`build_fcn` or `build_unet` by name."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown segmentation architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](input_shape, num_classes, **options)


# ---------------------------------------------------------------- explaining a segmentation

class PixelClassScores(layers.Layer):
    """Per-pixel class scores (batch, H, W, C) -> one score per class (batch, C): the sum of
    class c's score over the pixels predicted as c; where no pixel is (a class absent from
    the picture, or a noise input being optimised), the sum over the whole map. The mask of
    predicted pixels is held constant in gradients."""

    def call(self, logits):
        from keras import ops
        predicted = ops.stop_gradient(ops.one_hot(ops.argmax(logits, axis=-1), ops.shape(logits)[-1],
                                                  dtype=logits.dtype))
        masked = ops.sum(logits * predicted, axis=(1, 2))
        whole = ops.sum(logits, axis=(1, 2))
        return ops.where(ops.sum(predicted, axis=(1, 2)) > 0, masked, whole)


def class_score_model(model):
    """A classifier view of segmentation model `model` for the explanation tools
    (`shared.visualize`: saliency, Grad-CAM, class maximization): the same layers and
    weights, from the input to softmax(`PixelClassScores`(logits)), so that the logit of
    class c is its score summed over the pixels predicted as c."""
    scores = PixelClassScores(name="pixel_class_scores")(model.get_layer("logits").output)
    return keras.Model(model.inputs[0], layers.Activation("softmax", name="class_softmax")(scores),
                       name=f"{model.name}_class_scores")


def dominant_class(model, x, background=0):
    """The class other than `background` predicted on most pixels of input x (no batch
    axis) by segmentation model `model` (or its `class_score_model`); `background` when the
    map holds no other class."""
    pixels = keras.Model(model.inputs[0], model.get_layer("softmax").output)
    predicted = np.asarray(pixels(np.asarray(x, np.float32)[None], training=False))[0].argmax(-1)
    counts = np.bincount(predicted.ravel(), minlength=pixels.output_shape[-1])
    counts[background] = 0
    return int(counts.argmax()) if counts.any() else background


def gradcam_layer(model):
    """The last convolution with a kernel wider than 1x1 (U-Net: the last decoder conv; FCN: the
    fc conv): the layers after it only score classes, where Grad-CAM would show the scores."""
    convs = [layer.name for layer in model.layers
             if isinstance(layer, layers.Conv2D) and max(layer.kernel_size) > 1]
    return convs[-1]
