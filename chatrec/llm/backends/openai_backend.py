"""An OpenAI-compatible HTTP endpoint (OpenAI, vLLM, Ollama, llama.cpp server, `chatrec llm serve`).

Ranking asks for JSON that a JSON schema restricts to the candidate labels (`response_format`
json_schema, which OpenAI, vLLM and Ollama enforce while decoding). The reply is still validated:
an endpoint that ignores the schema gets its output repaired and counted as invalid, never trusted.
Option scoring reads `top_logprobs` of a one-token answer. Transient failures (connection errors,
timeouts, 429 and 5xx) are retried with exponential back-off; anything else fails at once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from chatrec.llm.backends.base import (
    Chat,
    Generation,
    LLMBackend,
    LLMError,
    Ranking,
    normalise_logprobs,
    repair_ranking,
)

log = logging.getLogger(__name__)
RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


def ranking_schema(labels: Sequence[str], k: int) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "ranking",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "ranking": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(labels)},
                        "minItems": k,
                        "maxItems": k,
                        "uniqueItems": True,
                    }
                },
                "required": ["ranking"],
                "additionalProperties": False,
            },
        },
    }


def parse_ranking(text: str) -> list[str] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    ranking = value.get("ranking") if isinstance(value, dict) else value
    if not isinstance(ranking, list) or not all(isinstance(x, str) for x in ranking):
        return None
    return [x.strip() for x in ranking]


class OpenAIBackend(LLMBackend):
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        concurrency: int = 8,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"LLM base URL {base_url!r} must start with http:// or https://")
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.concurrency = concurrency
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            try:
                response = self.client.post(path, json=payload)
            except httpx.TransportError as exc:  # connect errors and timeouts
                error: str = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return dict(response.json())
                error = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRYABLE_STATUS:
                    raise LLMError(f"{self.base_url}{path} rejected the request: {error}")
            if attempt < self.max_retries:
                log.warning("LLM request to %s failed (%s); retry %d", path, error, attempt + 1)
                time.sleep(delay)
                delay *= 2
        raise LLMError(f"{self.base_url}{path} failed after {self.max_retries + 1} attempts: {error}")

    def _parallel(self, function: Any, items: Sequence[Any]) -> list[Any]:
        # endpoints batch concurrent requests themselves (vLLM continuous batching)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(function, items))

    def _chat(self, chat: Chat, **options: Any) -> dict[str, Any]:
        return self._post("/chat/completions", {"model": self.name, "messages": chat, "temperature": 0, **options})

    def generate(self, chats: Sequence[Chat], *, max_new_tokens: int = 64) -> list[Generation]:
        def one(chat: Chat) -> Generation:
            reply = self._chat(chat, max_tokens=max_new_tokens)
            usage = reply.get("usage") or {}
            return Generation(
                text=(reply["choices"][0]["message"]["content"] or "").strip(),
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            )

        return self._parallel(one, chats)

    def rank(self, chats: Sequence[Chat], labels: Sequence[Sequence[str]], k: int) -> list[Ranking]:
        def one(index: int) -> Ranking:
            allowed = list(labels[index])
            reply = self._chat(chats[index], max_tokens=16 * k, response_format=ranking_schema(allowed, k))
            raw = reply["choices"][0]["message"]["content"] or ""
            parsed = parse_ranking(raw)
            ranked, invented, duplicates = repair_ranking(parsed or [], allowed, k)
            valid = parsed is not None and invented == 0 and duplicates == 0 and len(parsed) == k
            usage = reply.get("usage") or {}
            return Ranking(ranked, valid, invented, duplicates, int(usage.get("prompt_tokens", 0)), raw)

        return self._parallel(one, range(len(chats)))

    def option_logprobs(self, chats: Sequence[Chat], options: Sequence[Sequence[str]]) -> list[np.ndarray]:
        def one(index: int) -> np.ndarray:
            reply = self._chat(chats[index], max_tokens=1, logprobs=True, top_logprobs=20)
            content = (reply["choices"][0].get("logprobs") or {}).get("content") or []
            if not content:
                raise LLMError(f"{self.base_url} returned no logprobs; option scoring needs an endpoint that does")
            top: dict[str, float] = {}
            for entry in content[0].get("top_logprobs", []):
                token = entry["token"].strip()
                top[token] = float(np.logaddexp(top.get(token, -np.inf), entry["logprob"]))
            # an option outside the top 20 gets less than the smallest listed log-probability
            floor = min(top.values(), default=0.0) - 1.0
            return normalise_logprobs(np.asarray([top.get(o, floor) for o in options[index]], dtype=np.float64))

        return self._parallel(one, range(len(chats)))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0))
        reply = self._post("/embeddings", {"model": self.name, "input": list(texts)})
        vectors = np.asarray([row["embedding"] for row in sorted(reply["data"], key=lambda r: r["index"])])
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

    def count_tokens(self, text: str) -> int:
        # the endpoint's tokenizer is not visible; ~4 characters a token is the usual English estimate
        return max(1, len(text) // 4)
