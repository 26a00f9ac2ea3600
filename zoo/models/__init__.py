"""Model families, one file each; importing this package registers every builder.

The registry itself (:mod:`zoo.registry`) imports no family; this package does,
and re-exports the look-ups over the filled registry (as ``timm.models`` and
``torchvision.models``): ``zoo.models.get(name)``, ``zoo.models.list_models()``.
A new family is a file here plus one import line below.
"""

from zoo.models import mlp  # noqa: F401
from zoo.models import wide_deep  # noqa: F401
from zoo.models import cnn  # noqa: F401
from zoo.models import seq2seq  # noqa: F401
from zoo.models import char_rnn  # noqa: F401
from zoo.models import word2vec  # noqa: F401
from zoo.registry import ModelEntry, builder_params, call_builder, entries, get, list_models

__all__ = ["ModelEntry", "builder_params", "call_builder", "entries", "get", "list_models"]
