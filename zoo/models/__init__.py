"""Model families; importing this package registers every builder."""

from zoo.models import mlp  # noqa: F401
from zoo.models import wide_deep  # noqa: F401
from zoo.models import cnn  # noqa: F401
from zoo.models import seq2seq  # noqa: F401
from zoo.models import char_rnn  # noqa: F401
from zoo.models import word2vec  # noqa: F401
