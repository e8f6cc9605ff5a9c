"""A small OpenAI-compatible server over a local transformers model (`chatrec llm serve`).

It exists so the OpenAI backend is tested against a real endpoint serving the real default model,
and so a team without vLLM can still share one loaded model between processes. It implements the
subset chatrec uses: /v1/models, /v1/chat/completions (greedy; `max_tokens`; `logprobs` with
`top_logprobs`; `response_format` json_schema for a ranking, i.e. an object with one array of
string enums, decoded under the same grammar as the in-process backend) and /v1/embeddings.
Requests are served one at a time: the model is not thread-safe and the CPU has 2 cores.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from chatrec.llm.backends.transformers_backend import TransformersBackend


class ChatRequest(BaseModel):
    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: dict[str, Any] | None = None


class EmbeddingRequest(BaseModel):
    model: str
    input: str | list[str]


def ranking_request(response_format: dict[str, Any]) -> tuple[str, list[str], int]:
    """(property name, allowed labels, k) of a ranking json_schema, or a 400 naming what is unsupported."""
    if response_format.get("type") != "json_schema":
        raise HTTPException(400, f"response_format type {response_format.get('type')!r} is not supported")
    schema = response_format.get("json_schema", {}).get("schema", {})
    properties = schema.get("properties", {})
    if len(properties) != 1:
        raise HTTPException(400, "only a schema with one array-of-enum property is supported")
    ((name, spec),) = properties.items()
    enum = spec.get("items", {}).get("enum")
    if spec.get("type") != "array" or not enum:
        raise HTTPException(400, f"property {name!r} must be an array of string enums")
    k = int(spec.get("maxItems") or spec.get("minItems") or len(enum))
    return name, [str(x) for x in enum], k


def create_app(backend: TransformersBackend) -> FastAPI:
    app = FastAPI(title="chatrec LLM server")
    lock = threading.Lock()

    def envelope(content: str, prompt_tokens: int, completion_tokens: int, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop", **extra}
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": backend.name,
            "choices": [choice],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }  # fmt: skip

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": backend.name, "object": "model", "owned_by": "chatrec"}]}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest) -> dict[str, Any]:
        if not request.messages:
            raise HTTPException(400, "messages is empty")
        with lock:
            if request.response_format is not None:
                name, labels, k = ranking_request(request.response_format)
                if k > len(set(labels)):
                    raise HTTPException(400, f"maxItems {k} exceeds the {len(set(labels))} distinct enum values")
                ranking = backend.rank([request.messages], [labels], k)[0]
                return envelope(json.dumps({name: ranking.labels}), ranking.prompt_tokens, 2 * k)
            if request.logprobs:
                top = backend.top_logprobs(request.messages, request.top_logprobs or 1)
                token, logprob = top[0]
                content = [{"token": token, "logprob": logprob,
                            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}]  # fmt: skip
                prompt_tokens = backend.count_tokens(backend.render(request.messages))
                return envelope(token, prompt_tokens, 1, logprobs={"content": content})
            generation = backend.generate([request.messages], max_new_tokens=request.max_tokens or 256)[0]
            return envelope(generation.text, generation.prompt_tokens, generation.completion_tokens)

    @app.post("/v1/embeddings")
    def embeddings(request: EmbeddingRequest) -> dict[str, Any]:
        texts = [request.input] if isinstance(request.input, str) else request.input
        with lock:
            vectors = backend.embed(texts)
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        return {"object": "list", "data": data, "model": backend.name}

    return app


def serve(backend: TransformersBackend, host: str = "127.0.0.1", port: int = 8001) -> None:
    import uvicorn

    uvicorn.run(create_app(backend), host=host, port=port, log_level="warning")
