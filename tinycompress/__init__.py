"""tinycompress: neural-network compression from scratch in NumPy.

Chapters: efficient architectures (MobileNetV1), pruning, trained quantisation, Huffman coding,
and the Deep Compression pipeline that chains them. Start with ``tinycompress --help``.
"""

__version__ = "0.1.0"
