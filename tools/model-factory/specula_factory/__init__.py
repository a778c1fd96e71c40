"""Specula model factory: makes the shipped draft/target pair in the Hugging Face ONNX export format."""
