"""Custom Keras layers shared by the apps.

Every layer here is registered with Keras serialization under the
`beyond_pixels` package, so models that use it save and load as `.keras` files.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="beyond_pixels")
class LimitedWeightSharingConv2D(keras.layers.Layer):
    """2D convolution whose filters are shared only within sections of the last spatial axis.

    Abdel-Hamid et al. (2014), "Convolutional Neural Networks for Speech
    Recognition", section IV-B: along frequency, the convolution outputs are
    divided into sections of `section_size` positions; the positions of one
    section share one set of filters, and different sections have different
    filters (so low and high bands can learn different patterns). Following
    the paper, the max-pooling that comes after should pool each section into
    one unit (pool size = stride = `section_size`).

    Input `(batch, rows, cols, channels)`; `valid` convolution with strides
    `(row_stride, 1)`. The `cols - kernel_cols + 1` valid positions are cut into
    `sections = (cols - kernel_cols + 1) // section_size` sections; a remainder of
    fewer than `section_size` positions at the top is dropped, as the paper's
    pooling does. Output `(batch, rows', sections * section_size, filters)`.
    """

    def __init__(self, filters, kernel_size, section_size, row_stride=1, use_bias=True,
                 kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in (kernel_size if isinstance(kernel_size, (tuple, list))
                                                  else (kernel_size, kernel_size)))
        self.section_size = int(section_size)
        self.row_stride = int(row_stride)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        cols, channels = input_shape[2], input_shape[3]
        positions = cols - self.kernel_size[1] + 1
        self.sections = positions // self.section_size
        if self.sections < 1:
            raise ValueError(f"{self.name}: {cols} columns give {positions} positions, fewer than "
                             f"one section of {self.section_size}")
        kr, kc = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(self.sections, kr, kc, channels, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.sections, self.filters), initializer="zeros") \
            if self.use_bias else None

    def call(self, inputs):
        outputs = []
        span = self.section_size + self.kernel_size[1] - 1  # input columns one section sees
        for s in range(self.sections):
            start = s * self.section_size
            piece = inputs[:, :, start:start + span, :]
            y = ops.conv(piece, self.kernel[s], strides=(self.row_stride, 1), padding="valid")
            if self.bias is not None:
                y = y + self.bias[s]
            outputs.append(y)
        return ops.concatenate(outputs, axis=2)

    def compute_output_shape(self, input_shape):
        rows = input_shape[1]
        rows = None if rows is None else (rows - self.kernel_size[0]) // self.row_stride + 1
        positions = input_shape[2] - self.kernel_size[1] + 1
        return (input_shape[0], rows, (positions // self.section_size) * self.section_size, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, section_size=self.section_size,
                      row_stride=self.row_stride, use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config
