"""zoobench: a PyTorch Lightning model zoo and benchmark suite.

Public API::

    zoo.create(name, pretrained=None, num_classes=None, freeze="none", **kwargs) -> LightningModule
    zoo.list_pretrained(pattern="*")  -> list[str]  (ids of shipped checkpoints)
    zoo.load_pretrained(id_or_path, num_classes=None, freeze="none") -> LightningModule
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
        from zoo.hub import create

        return create
    if name == "load_pretrained":
        from zoo.hub import load_pretrained

        return load_pretrained
    if name == "list_pretrained":
        import zoo.models  # noqa: F401  (registers the pretrained entries)
        from zoo.pretrained import list_pretrained

        return list_pretrained
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


__all__ = ["create", "list_pretrained", "load_pretrained", "list_models", "train", "load_checkpoint", "list_datasets", "__version__"]
