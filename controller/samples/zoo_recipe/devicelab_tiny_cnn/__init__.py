"""A qai-hub-models recipe that ships no weights: a tiny CNN with seeded weights.

``qai-hub-models export controller/samples/zoo_recipe/devicelab_tiny_cnn`` (inside
``devicelab run``) exports it as any model of the zoo, with nothing downloaded.
"""

from .model import MODEL_ID
from .model import TinyCnn as Model

__all__ = ["MODEL_ID", "Model"]
