"""Inference backends and ONNX export."""
