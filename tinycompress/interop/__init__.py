"""Bring your own model: import from PyTorch / ONNX, export the compressed model back.

- :mod:`.safetensors`: the safetensors file, read and written with NumPy alone;
- :mod:`.layout`: PyTorch's names and layouts for the engine's parameters;
- :mod:`.onnx_read`, :mod:`.onnx_import`: an ONNX file validated, then mapped node by node
  onto the engine's layers;
- :mod:`.onnx_export`, :mod:`.onnx_compact`: the engine's model as a self-contained ONNX
  graph, dense or keeping the compression (codebook indices, relative positions);
- :mod:`.runtime`: the export checked in onnxruntime against the engine;
- :mod:`.convert`: what ``tinycompress import`` and ``tinycompress export`` do;
- :mod:`.support`: the optional ``interop`` extra (onnx, onnxruntime), imported only when
  needed, so the package imports without it.
"""
