"""Helpers for `bench/` scripts: this machine's matmul peak and model FLOP counts.

A throughput figure means little without the machine's ceiling beside it, so
benchmarks measure the float32 `tf.matmul` peak in the same run
(`matmul_peak_gflops`) and report the share of it a model reaches, using the
multiply-add count of its convolution and dense layers (`model_flops`).
"""
import time

import numpy as np


def matmul_peak_gflops(size=2048, repeats=10, warmup=2, dtype="float32"):
    """Best-of-`repeats` GFLOP/s of a (size x size) @ (size x size) `tf.matmul` (2 n^3 FLOPs each)."""
    import tensorflow as tf
    a = tf.random.stateless_uniform((size, size), seed=(1, 2), dtype=dtype)
    b = tf.random.stateless_uniform((size, size), seed=(3, 4), dtype=dtype)
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))  # reduce: forces the product to finish
    for _ in range(warmup):
        matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2.0 * size ** 3 / best / 1e9


def layer_flops(layer):
    """Forward FLOPs (2 per multiply-add) of one Keras layer for one example; 0 for other layers."""
    from keras import layers
    if isinstance(layer, (layers.Conv1D, layers.Conv2D)):
        out_shape = layer.output.shape[1:-1]
        kernel = np.prod(layer.kernel_size)
        in_channels = layer.input.shape[-1] // layer.groups
        return 2 * int(np.prod(out_shape)) * int(kernel) * int(in_channels) * layer.filters
    if isinstance(layer, layers.Dense):
        rows = int(np.prod(layer.input.shape[1:-1])) if len(layer.input.shape) > 2 else 1
        return 2 * rows * int(layer.input.shape[-1]) * layer.units
    return 0


def model_flops(model):
    """Forward FLOPs of a functional Keras model for one example (conv and dense layers; nested models too)."""
    import keras
    total = 0
    for layer in model.layers:
        total += model_flops(layer) if isinstance(layer, keras.Model) else layer_flops(layer)
    return total


def training_flops(model):
    """The usual estimate of a training step's FLOPs per example: forward + 2x for the backward pass."""
    return 3 * model_flops(model)
