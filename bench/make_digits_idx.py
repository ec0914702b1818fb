"""Write scikit-learn's 8x8 handwritten digits (UCI optdigits, 1,797 images) as an IDX dataset.

A dataset none of the project's recipes was tuned on, for ``tinycompress train MODEL --data DIR``
and ``tinycompress deep-compress CKPT --data DIR``. The 0..16 grey levels are scaled to 0..255;
a seeded permutation puts 1,437 images in the training file and 360 in the test file.

Run: ``python bench/make_digits_idx.py DIR`` (needs scikit-learn; skipped with a message if absent).
"""

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print("scikit-learn is not installed: pip install scikit-learn", file=sys.stderr)
        return 1
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(args.seed).permutation(len(images))
    train, test = order[:1437], order[1437:]
    args.folder.mkdir(parents=True, exist_ok=True)
    for prefix, part in (("train", train), ("t10k", test)):
        write_idx(args.folder / f"{prefix}-images-idx3-ubyte.gz", images[part])
        write_idx(args.folder / f"{prefix}-labels-idx1-ubyte.gz", digits.target[part])
    print(f"{args.folder}: {len(train)} training and {len(test)} test images, 8x8, 10 classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
