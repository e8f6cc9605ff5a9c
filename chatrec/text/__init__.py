"""Item text and its language-model embeddings (the text side of the candidate stage)."""

from chatrec.text.encoder import ItemTextEncoder, resolve_embedding_model
from chatrec.text.items import item_text, item_texts

__all__ = ["ItemTextEncoder", "item_text", "item_texts", "resolve_embedding_model"]
