"""digitlab: handwritten-digit recognition, from the lab's CNN to reading real scans.

    from digitlab import load_dataset, CNNClassifier, TensorLoader, train_model, evaluate, Predictor, Reader

Names are imported on first use, so `import digitlab` stays light (the ONNX path never loads torch).
"""

from importlib import import_module

__version__ = "0.1.0"

_API = {
    "load_dataset": "datasets", "Dataset": "datasets", "Split": "datasets",
    "CNNClassifier": "models", "DigitNet": "models", "build_model": "models",
    "TrainConfig": "config",
    "TensorLoader": "training", "train_model": "training", "fit": "training", "select_device": "training",
    "evaluate": "evaluation", "Evaluation": "evaluation",
    "write_report": "report",
    "normalize_scan": "preprocessing", "normalize_batch": "preprocessing", "find_ink": "ink",
    "Predictor": "predict", "Reader": "predict",
    "export_onnx": "export",
    "create_app": "server",
    "DigitlabError": "errors",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f"digitlab.{_API[name]}"), name)
    raise AttributeError(f"module 'digitlab' has no attribute {name!r}")
