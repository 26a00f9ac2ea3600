"""zoobench: a PyTorch Lightning model zoo and benchmark suite.

Public API::

    zoo.create(name, **kwargs)        -> LightningModule
    zoo.list_models(pattern="*")      -> list[str]
    zoo.train(model, data, **kwargs)  -> TrainResult
    zoo.load_checkpoint(path, ...)    -> LightningModule (verified weights)
    zoo.list_datasets(pattern="*")    -> list[str]
"""

from zoo.version import __version__


def __getattr__(name: str):
    # Lazy: `import zoo` stays cheap (no torch); the families and lightning load on first use.
    if name == "list_models":
        from zoo.models import list_models

        return list_models
    if name == "create":
        from zoo.factory import create

        return create
    if name == "train":
        from zoo.training import train

        return train
    if name == "load_checkpoint":
        from zoo.checkpoint import load_checkpoint

        return load_checkpoint
    if name == "list_datasets":
        from zoo.data import list_datasets

        return list_datasets
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = ["create", "list_models", "train", "load_checkpoint", "list_datasets", "__version__"]
