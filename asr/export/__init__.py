"""Deployment formats of a fine-tuned CTC model: ONNX export and an onnxruntime model that decodes like torch.

``onnx`` and ``onnxruntime`` are imported only when a function here runs, so importing this package is cheap.
"""

from .onnx import ExportError, OnnxCTCModel, export_onnx, load_any_ctc_model

__all__ = ["ExportError", "OnnxCTCModel", "export_onnx", "load_any_ctc_model"]
