"""Model families; importing this package registers every builder."""

from zoo.models import mlp  # noqa: F401
