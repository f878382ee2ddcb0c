"""Integer streams as the kernels read them.

Kernels read a Huffman stream's integers through ``stream_ints``, which takes the stream's own decoded
values: a stream is decoded once (and kept on the stream object), so a verification whose kernel and
reference both read the same tensor decodes it once, as a runtime decodes Huffman once at load time.
``tests/unit/kernels/huffman_oracle.py`` holds an independent decoder that tests keep equal to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def stream_ints(stream: Any) -> np.ndarray:
    """The integers of an integer stream as int64: fixed-width streams as stored, Huffman streams as
    decoded once by the stream itself (see the module docstring)."""
    return np.asarray(stream.values(), np.int64)
