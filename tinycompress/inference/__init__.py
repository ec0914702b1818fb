"""Running a compressed model (chapter 7): ``gemm`` (every weight layer as one matrix product,
BatchNorm folded), ``fp16`` (half precision, float32 accumulation), ``calibration`` (activation
scales and zero points), ``fixedpoint`` (int8 weights, the requantisation, the exactness
bounds), ``int8`` (integer-only inference, a fast path beside the int64 reference),
``codebook`` (one multiply per shared weight), ``precision`` (error, time and energy of each)."""
