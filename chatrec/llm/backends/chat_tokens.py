"""Tokenizer-side helpers shared by the local backends (transformers and CTranslate2): the exact
prompt text a chat becomes, and the token ids a one-token label or option may be spelled with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatrec.llm.backends.base import Chat, LLMError


def render_chat(tokenizer: Any, chat: Chat) -> str:
    """The exact text the model reads: its chat template, or plain role-prefixed turns without one."""
    if tokenizer.chat_template:
        return str(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))
    turns = [f"{m['role'].capitalize()}: {m['content']}" for m in chat]
    return "\n\n".join(turns) + "\n\nAssistant:"


def single_token(tokenizer: Any, text: str, model_name: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise LLMError(f"{text!r} is {len(ids)} tokens for {model_name}; ranking labels must be one token")
    return int(ids[0])


def label_tokens(tokenizer: Any, labels: Sequence[str], model_name: str) -> dict[int, str]:
    """Token id -> label for every one-token spelling of each label ("A" and " A")."""
    tokens: dict[int, str] = {}
    for label in labels:
        for spelling in (label, " " + label):
            ids = tokenizer.encode(spelling, add_special_tokens=False)
            if len(ids) == 1:
                tokens[int(ids[0])] = label
        if label not in tokens.values():
            raise LLMError(f"label {label!r} is not a single token for {model_name}")
    return tokens
