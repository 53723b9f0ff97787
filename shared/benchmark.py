"""This machine's float32 matmul peak, measured, so benchmarks can report
throughput as a fraction of what the hardware did in the same run."""
import time


def matmul_peak_gflops(seconds=2.0, size=1024):
    """Best float32 GFLOP/s of repeated `size` x `size` matmuls over about `seconds`
    (TensorFlow, all threads it is allowed to use)."""
    import tensorflow as tf
    a = tf.random.uniform((size, size), dtype=tf.float32)
    b = tf.random.uniform((size, size), dtype=tf.float32)
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()  # trace and warm up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        matmul(a, b).numpy()
        best = max(best, 2 * size ** 3 / (time.perf_counter() - started) / 1e9)
    return best
