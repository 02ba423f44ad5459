"""Second-order IIR (biquad) filter, direct form I, over each channel of a multichannel signal."""

import numpy as np
import scipy.signal

SIZES = (8, 64, 512, 4096)  # channels of 2000 samples each
SAMPLES_PER_CHANNEL = 2_000


def iir_biquad(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    channels, n = x.shape
    y = np.zeros((channels, n))
    for c in range(channels):
        x1 = 0.0
        x2 = 0.0
        y1 = 0.0
        y2 = 0.0
        for t in range(n):
            x0 = x[c, t]
            y0 = (b[0] * x0 + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2) / a[0]
            y[c, t] = y0
            x2 = x1
            x1 = x0
            y2 = y1
            y1 = y0
    return y


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((195, size))
    b, a = scipy.signal.butter(2, 0.1)  # a low-pass Butterworth section
    return b, a, rng.standard_normal((size, SAMPLES_PER_CHANNEL))


def reference(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    return scipy.signal.lfilter(b, a, x, axis=1)
