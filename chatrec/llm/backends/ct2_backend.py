"""A local model run by CTranslate2 (int8 on CPU): the fast CPU backend.

The model is converted once from its GGUF file or transformers folder (`chatrec.llm.ct2_convert`).

Batch-invariant greedy decoding. CTranslate2 feeds a batch's prompts to the model in one pass up to
the shortest prompt's length and then token by token, and the two paths round differently, so a
prompt's continuation could depend on which other prompts share its batch. Here every prompt of
length L is always split the same way, whatever else is in its batch: its first
b(L) = 16 * floor((L - 1) / 16) tokens in one pass, the rest token by token. Prompts are batched with
others of the same b (sorted by length, so a large call still fills its batches); a batch without a
prompt of length b + 1 gets a throwaway one that pins the split, and a prompt alone in its batch has
its first b tokens passed as the static prompt. The result: batched output equals unbatched output,
token for token (tests/llm/test_ct2_backend.py).

Constrained decoding. CTranslate2 4.8 has no Python logits processors, so constrained decoding
(`rank`'s grammar, `generate_guided`'s text constraints) checks the model's own greedy choice after
the fact: each prompt is first decoded freely (batched) with the logits of every step; walking the
tokens, a step whose token the constraint allows is kept (greedy-constrained decoding would pick it
too: it is the most likely token), and at the first step where it does not, the most likely allowed
token is taken from that step's logits and decoding resumes from there. A resumed decode reuses the
prompt's state as the cached static prompt of a scratch generator, thrown away afterwards
(CTranslate2 never evicts cached prompts), so it only feeds the tokens kept so far.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatrec.llm.backends.base import (
    Chat,
    Generation,
    LLMBackend,
    LLMError,
    Ranking,
    TextConstraint,
    choose_guided_token,
    longest_complete_prefix,
    normalise_logprobs,
)
from chatrec.llm.backends.chat_tokens import label_tokens, render_chat, single_token
from chatrec.llm.ct2_convert import ensure_converted
from chatrec.llm.weights import resolve_llm_model

log = logging.getLogger(__name__)

SPLIT = 16  # prompts are fed in one pass up to a multiple of this, then token by token

# choose(generated_ids, logits) -> the next token (EOS ends the answer), or None at a dead end
Chooser = Callable[[list[int], np.ndarray], int | None]
GUIDED_SEARCH_WIDTH = 256  # as the transformers backend's GuidedText: the most likely tokens tried
RESUME_TOKENS = 8  # tokens a resumed decode runs ahead (wasted when the constraint overrules it early)


def canonical_split(length: int) -> int:
    """How many of a prompt's tokens go to the model in one pass (the rest go token by token)."""
    if length < 2:
        raise LLMError("a prompt must have at least 2 tokens")
    split = (length - 1) // SPLIT * SPLIT
    return split if split > 0 else length - 1


def _logit_rows(steps: Sequence[Any]) -> np.ndarray:
    """CTranslate2's per-step logits (one array per decoding call step, each [n, vocab]) as rows."""
    arrays = [np.asarray(step, dtype=np.float32) for step in steps]
    return np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays])


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


class CTranslate2Backend(LLMBackend):
    def __init__(
        self,
        model: str | Path,
        *,
        cache_dir: Path,
        batch_size: int = 8,
        threads: int = 1,
        inter_threads: int = 1,
        adapter: Path | None = None,
    ) -> None:
        import ctranslate2
        from transformers import AutoTokenizer

        if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            raise LLMError(f"LLM adapter folder {adapter} has no adapter_config.json (is it a peft LoRA adapter?)")
        self.reference = resolve_llm_model(model)
        try:
            converted = ensure_converted(self.reference, cache_dir, adapter)
            self.tokenizer = AutoTokenizer.from_pretrained(converted.tokenizer)
        except OSError as exc:
            raise LLMError(f"cannot load LLM {model!r} with ctranslate2: {exc}") from exc
        self.converted = converted
        self.name = str(model)
        self.adapter = adapter
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads
        self._options = {"device": "cpu", "compute_type": "int8", "intra_threads": threads}
        self.generator = ctranslate2.Generator(str(converted.folder), inter_threads=inter_threads, **self._options)
        self._eos = self.tokenizer.eos_token_id
        self._sep_id = single_token(self.tokenizer, ",", self.name)
        self._embedder: Any = None

    # --- prompt encoding -------------------------------------------------------------------------
    def render(self, chat: Chat) -> str:
        return render_chat(self.tokenizer, chat)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _encode(self, chat: Chat) -> list[int]:
        return list(self.tokenizer.encode(self.render(chat), add_special_tokens=False))

    def _first_token(self, text: str) -> int:
        return int(self.tokenizer.encode(text, add_special_tokens=False)[0])

    def _tokens(self, ids: Sequence[int]) -> list[str]:
        return list(self.tokenizer.convert_ids_to_tokens(list(ids)))

    # --- batch-invariant greedy decoding -----------------------------------------------------------
    def _run(
        self, prompts: Sequence[list[int]], max_new_tokens: int, *, logits: bool = False
    ) -> list[tuple[list[int], np.ndarray | None]]:
        """Greedy continuation of each prompt (token ids, EOS dropped) and, with `logits`, the
        logits of every generated step (row 0: right after the prompt). Batching changes neither."""
        groups: dict[int, list[int]] = {}
        for index in sorted(range(len(prompts)), key=lambda i: len(prompts[i])):
            groups.setdefault(canonical_split(len(prompts[index])), []).append(index)
        results: list[tuple[list[int], np.ndarray | None]] = [([], None)] * len(prompts)
        for split, members in groups.items():
            for start in range(0, len(members), self.batch_size):
                batch = members[start : start + self.batch_size]
                for index, result in zip(
                    batch, self._run_batch(prompts, batch, split, max_new_tokens, logits), strict=True
                ):
                    results[index] = result
        return results

    def _run_batch(
        self, prompts: Sequence[list[int]], batch: list[int], split: int, max_new_tokens: int, logits: bool
    ) -> list[tuple[list[int], np.ndarray | None]]:
        options: dict[str, Any] = {
            "sampling_topk": 1, "end_token": [self._eos], "return_logits_vocab": logits,
        }  # fmt: skip
        if len(batch) == 1:
            # alone: the first `split` tokens as the static prompt (one pass), the rest stepped
            prompt = prompts[batch[0]]
            rest = prompt[split:]
            [out] = self.generator.generate_batch(
                [self._tokens(rest)], static_prompt=self._tokens(prompt[:split]) or None,
                cache_static_prompt=False, include_prompt_in_result=True,
                max_length=len(rest) + max_new_tokens, **options,
            )  # fmt: skip
            # the result repeats the stepped prompt tokens (all but a leading BOS token) first
            echoed = len(rest) - (1 if rest[0] == self.tokenizer.bos_token_id else 0)
            outputs = [(out.sequences_ids[0][echoed:], out.logits if logits else None)]
        else:
            rows = [prompts[i] for i in batch]
            if min(len(row) for row in rows) != split + 1:
                rows.append(rows[0][: split + 1])  # pins the one-pass length to `split`
            outs = self.generator.generate_batch(
                [self._tokens(row) for row in rows], include_prompt_in_result=False,
                max_length=max_new_tokens, **options,
            )  # fmt: skip
            outputs = [(out.sequences_ids[0], out.logits if logits else None) for out in outs[: len(batch)]]
        results = []
        for index, (ids, steps) in zip(batch, outputs, strict=True):
            generated: np.ndarray | None = None
            if steps is not None:
                # one logits row per step: the stepped prompt tokens first, then the generated ones
                generated = _logit_rows(steps)[len(prompts[index]) - split - 1 :]
            results.append((list(ids)[:max_new_tokens], generated))
        return results

    # --- the interface ---------------------------------------------------------------------------
    def generate(self, chats: Sequence[Chat], *, max_new_tokens: int = 64) -> list[Generation]:
        prompts = [self._encode(chat) for chat in chats]
        outputs = self._run(prompts, max_new_tokens)
        return [
            Generation(
                text=self.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                prompt_tokens=len(prompt),
                completion_tokens=len(ids),
            )
            for prompt, (ids, _) in zip(prompts, outputs, strict=True)
        ]

    def _option_scores(self, logits: np.ndarray, option_tokens: Sequence[Sequence[int]]) -> np.ndarray:
        logprobs = _log_softmax(logits.astype(np.float64))
        values = [np.logaddexp.reduce([logprobs[t] for t in ids]) for ids in option_tokens]
        return normalise_logprobs(np.asarray(values, dtype=np.float64))

    def option_logprobs(self, chats: Sequence[Chat], options: Sequence[Sequence[str]]) -> list[np.ndarray]:
        outputs = self._run([self._encode(chat) for chat in chats], 1, logits=True)
        results = []
        for (_, logits), opts in zip(outputs, options, strict=True):
            assert logits is not None
            results.append(self._option_scores(logits[0], [list(self._label_tokens([o])) for o in opts]))
        return results

    def option_logprobs_grouped(
        self, groups: Sequence[Sequence[Chat]], options: Sequence[str]
    ) -> list[list[np.ndarray]]:
        """A group's shared token prefix is computed once (the static prompt of one call, shared by
        the whole group) and only each prompt's own suffix runs per prompt. The prompt is split
        differently from `option_logprobs` (shared prefix / suffix instead of `canonical_split`), so
        the scores agree with it within int8 rounding, not bit for bit."""
        option_tokens = [list(self._label_tokens([o])) for o in options]
        results: list[list[np.ndarray]] = []
        for group in groups:
            encoded = [self._encode(chat) for chat in group]
            shared = 0
            shortest = min(len(e) for e in encoded)
            while shared < shortest - 2 and all(e[shared] == encoded[0][shared] for e in encoded):
                shared += 1
            suffixes = [e[shared:] for e in encoded]
            outs = self.generator.generate_batch(
                [self._tokens(s) for s in suffixes], static_prompt=self._tokens(encoded[0][:shared]) or None,
                cache_static_prompt=False, include_prompt_in_result=False, max_length=1, sampling_topk=1,
                return_logits_vocab=True,
            )  # fmt: skip
            # one logits row per stepped suffix token beyond the shortest suffix, then the answer's
            first_step = min(len(s) for s in suffixes)
            results.append(
                [
                    self._option_scores(_logit_rows(out.logits)[len(suffix) - first_step], option_tokens)
                    for suffix, out in zip(suffixes, outs, strict=True)
                ]
            )
        return results

    def _label_tokens(self, labels: Sequence[str]) -> dict[int, str]:
        return label_tokens(self.tokenizer, labels, self.name)

    # --- constrained decoding --------------------------------------------------------------------
    def _decode_chosen(
        self, prompts: Sequence[list[int]], choosers: Sequence[Chooser], max_new_tokens: int
    ) -> list[tuple[list[int], bool]]:
        """Greedy decoding where `choose` picks every token from the step's logits: (tokens without
        EOS, whether decoding ended at a dead end). Free decoding first, batched; resumed where a
        chooser overrules the model (see the module docstring)."""
        free = self._run(prompts, max_new_tokens, logits=True)
        return [
            self._walk(prompt, tokens, rows, choose, max_new_tokens)
            for prompt, (tokens, rows), choose in zip(prompts, free, choosers, strict=True)
        ]

    def _walk(
        self, prompt: list[int], tokens: list[int], rows: np.ndarray | None, choose: Chooser, max_new_tokens: int
    ) -> tuple[list[int], bool]:
        import ctranslate2

        kept: list[int] = []
        scratch = None
        try:
            while rows is not None and len(rows):
                for step, logits in enumerate(rows):
                    token = choose(kept, logits)
                    if token is None:
                        return kept, True
                    if token == self._eos:
                        return kept, False
                    kept.append(token)
                    if len(kept) >= max_new_tokens:
                        return kept, False
                    if step >= len(tokens) or token != tokens[step]:
                        break  # overruled (or past the free run's end): resume after `kept`
                if scratch is None:  # its cache of the one static prompt goes away with it
                    scratch = ctranslate2.Generator(str(self.converted.folder), **self._options)
                [out] = scratch.generate_batch(
                    [self._tokens(prompt[-1:] + kept)], static_prompt=self._tokens(prompt[:-1]),
                    cache_static_prompt=True, include_prompt_in_result=False,
                    max_length=min(RESUME_TOKENS, max_new_tokens - len(kept)), sampling_topk=1, end_token=[self._eos],
                    return_logits_vocab=True,
                )  # fmt: skip
                tokens, rows = list(out.sequences_ids[0]), _logit_rows(out.logits)
        finally:
            del scratch
        return kept, False

    def generate_guided(
        self, chats: Sequence[Chat], constraints: Sequence[TextConstraint], *, max_new_tokens: int = 64
    ) -> list[Generation]:
        """Every token the most likely of the step's `GUIDED_SEARCH_WIDTH` most likely whose text the
        constraint allows (end only where the text is complete), as the transformers backend's
        `GuidedText`; a dead end or the token limit is cut back to the longest complete prefix."""

        def chooser(constraint: TextConstraint) -> Chooser:
            def choose(kept: list[int], logits: np.ndarray) -> int | None:
                return choose_guided_token(
                    constraint,
                    constraint.start + self.tokenizer.decode(kept, skip_special_tokens=True),
                    logits,
                    lambda token: constraint.start + self.tokenizer.decode([*kept, token], skip_special_tokens=True),
                    self._first_token,
                    {self._eos},
                    GUIDED_SEARCH_WIDTH,
                )

            return choose

        prompts = [
            list(self.tokenizer.encode(self.render(chat) + c.start, add_special_tokens=False))
            for chat, c in zip(chats, constraints, strict=True)
        ]
        decoded = self._decode_chosen(prompts, [chooser(c) for c in constraints], max_new_tokens)
        results = []
        for prompt, constraint, (kept, _) in zip(prompts, constraints, decoded, strict=True):
            prefixes = [
                constraint.start + self.tokenizer.decode(kept[:n], skip_special_tokens=True)
                for n in range(len(kept) + 1)
            ]
            text = longest_complete_prefix(prefixes, constraint)
            results.append(Generation(text=text.strip(), prompt_tokens=len(prompt), completion_tokens=len(kept)))
        return results

    def rank(self, chats: Sequence[Chat], labels: Sequence[Sequence[str]], k: int) -> list[Ranking]:
        """The transformers backend's grammar (`label (sep label){k-1} eos`, each label at most once):
        the most likely allowed token at every step."""
        label_maps, choosers = [], []
        for allowed_labels in labels:
            if len(set(allowed_labels)) < k:
                raise ValueError(f"cannot rank {k} distinct items out of {len(set(allowed_labels))} candidates")
            tokens = self._label_tokens(allowed_labels)

            def choose(kept: list[int], logits: np.ndarray, tokens: dict[int, str] = tokens) -> int:
                used = {tokens[t] for t in kept if t in tokens}
                if kept and kept[-1] in tokens:
                    return self._eos if len(used) >= k else self._sep_id
                allowed = [t for t, label in tokens.items() if label not in used]
                return allowed[int(np.argmax(logits[allowed]))]

            label_maps.append(tokens)
            choosers.append(choose)
        prompts = [self._encode(chat) for chat in chats]
        results = []
        for prompt, tokens, (new, _) in zip(
            prompts, label_maps, self._decode_chosen(prompts, choosers, 2 * k), strict=True
        ):
            ranked = [tokens[t] for t in new if t in tokens]
            results.append(
                Ranking(
                    labels=ranked, valid=len(ranked) == k and len(set(ranked)) == k, invented=0,
                    duplicates=len(ranked) - len(set(ranked)), prompt_tokens=len(prompt),
                    raw=self.tokenizer.decode(new, skip_special_tokens=True).strip(),
                )
            )  # fmt: skip
        return results

    # --- embeddings ------------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled last hidden states, as the transformers backend computes them (CTranslate2's
        generator does not expose hidden states): that backend is loaded on first use."""
        if self._embedder is None:
            from chatrec.llm.backends.transformers_backend import TransformersBackend

            self._embedder = TransformersBackend(
                self.name, cache_dir=self.cache_dir, batch_size=self.batch_size, adapter=self.adapter
            )
        return np.asarray(self._embedder.embed(texts))
