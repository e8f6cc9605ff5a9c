"""LLM backends: local transformers models and OpenAI-compatible HTTP endpoints."""

from chatrec.llm.backends.base import Chat, Generation, LLMBackend, LLMError, Ranking

__all__ = ["Chat", "Generation", "LLMBackend", "LLMError", "Ranking"]
