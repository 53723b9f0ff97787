"""Benchmark helpers: this machine's float32 matmul peak and a model's FLOPs.

Throughput figures mean little without the hardware's ceiling beside them, so
every bench in `bench/` measures the matmul peak in the same run and reports
achieved model FLOP/s as a fraction of it.
"""
import time

import numpy as np


def matmul_peak_gflops(size=2048, seconds=3.0):
    """Best float32 GFLOP/s of a square TensorFlow matmul over about `seconds`."""
    import tensorflow as tf
    a = tf.random.normal((size, size))
    matmul = tf.function(lambda m: tf.matmul(m, m))
    matmul(a).numpy()  # trace and warm up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        matmul(a).numpy()
        best = max(best, 2 * size ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def model_flops(model):
    """Multiply-adds x 2 of one example's forward pass through the convolution (plain, grouped,
    depthwise, transposed) and dense layers; normalization, pooling and activations are not counted."""
    import keras
    convolutions = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.DepthwiseConv1D,
                    keras.layers.DepthwiseConv2D)
    total = 0
    for layer in _leaf_layers(model):
        if isinstance(layer, convolutions):
            # kernel: k..., in/groups, out (or k..., channels, multiplier): one multiply-add per entry per output position
            kernel = np.prod((layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel).shape)
            positions = np.prod(layer.output.shape[1:-1])
            total += 2 * int(kernel) * int(positions)
        elif isinstance(layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose)):
            # every input position is spread over the whole kernel
            total += 2 * int(np.prod(layer.kernel.shape)) * int(np.prod(layer.input.shape[1:-1]))
        elif isinstance(layer, keras.layers.Dense):
            positions = np.prod(layer.output.shape[1:-1]) if len(layer.output.shape) > 2 else 1
            total += 2 * int(np.prod(layer.kernel.shape)) * int(positions)
    return total


def training_flops(model):
    """Forward plus backward (gradients for inputs and weights): about 3x the forward pass."""
    return 3 * model_flops(model)


def _leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _leaf_layers(layer)
        else:
            yield layer


def time_training_steps(model, x, y, batch_size, steps, warmup=3):
    """Examples/s of `model.train_on_batch` over `steps` batches after `warmup` batches."""
    n = len(x)
    for i in range(warmup):
        model.train_on_batch(x[(i * batch_size) % n:][:batch_size], y[(i * batch_size) % n:][:batch_size])
    start = time.perf_counter()
    for i in range(steps):
        lo = (i * batch_size) % max(1, n - batch_size)
        model.train_on_batch(x[lo:lo + batch_size], y[lo:lo + batch_size])
    return steps * batch_size / (time.perf_counter() - start)


def time_inference(model, x, batch_size, repeats=3):
    """Examples/s of `model.predict_on_batch` over `x`, best of `repeats`."""
    model.predict_on_batch(x[:batch_size])
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for lo in range(0, len(x), batch_size):
            model.predict_on_batch(x[lo:lo + batch_size])
        best = max(best, len(x) / (time.perf_counter() - start))
    return best
