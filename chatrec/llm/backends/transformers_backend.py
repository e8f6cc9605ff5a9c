"""A local transformers causal LM as a chatrec backend (CUDA in bf16 when present; CPU in fp32, or with
dynamic int8 linear layers: `int8=True`, ~2.6x the prefill and decode speed of fp32 on this CPU).

Prompts of one batch that share a token prefix (the system prompt and the task's instruction) run it
once: its key/value cache is copied to every row and only each prompt's own suffix goes through the
model (`_prefixed`).

Constrained ranking is done inside decoding: a logits processor only lets the model emit a label it
has not used yet, then a separator, until k labels are out, then end-of-sequence. The output can
therefore always be parsed and never names an invented or duplicate item, whatever the prompt (or a
hostile item description inside it) says.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AttentionInterface,
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    LogitsProcessor,
    LogitsProcessorList,
)
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

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
from chatrec.llm.weights import ensure_loadable, resolve_llm_model

log = logging.getLogger(__name__)

# a shorter shared prefix is not worth a separate forward pass and a copied cache
MIN_SHARED_PREFIX = 16
# most prompt tokens (rows x longest row) scored in one forward pass: padded long prompts make attention
# use an explicit mask, slower than the batch saves (re-rank prompts of ~1000 tokens on this CPU, int8:
# 1.65 s per user at 16 per pass, 0.88-1.02 s one at a time; a one-off probe, docs/benchmarks.md)
SCORING_TOKENS_PER_PASS = 1024


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of every linear layer (weights int8 per tensor, activations quantized on
    the fly): the CPU path of `TransformersBackend(int8=True)`. Activations share one scale per call,
    so a row's logits can move a little with the rest of its batch (ctranslate2 is batch-invariant)."""
    with warnings.catch_warnings():
        # torch points eager quantization users to torchao; the eager API is what runs here on CPU
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def sdpa_grouped_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: object,
) -> tuple[torch.Tensor, None]:
    """transformers' SDPA attention, except that several masked query tokens on CPU read the grouped
    key/value heads as they are (`enable_gqa`). transformers copies them once per query head group
    there (its `repeat_kv`; it asks SDPA for grouped heads only without a mask, or on CUDA/XPU/MPS), and
    every prompt suffix here runs with a mask (padding, the cached prefix). Same output (tested), no
    copies: an explanation batch's prompt pass ~1.09x, the whole LLM stage between no measurable change
    and 1.06x on this CPU (docs/benchmarks.md)."""
    groups = getattr(module, "num_key_value_groups", 1)
    if (
        attention_mask is None
        or groups == 1
        or query.shape[2] == 1  # one token: transformers folds the groups into the query already
        or query.device.type != "cpu"
        or kwargs.get("position_bias") is not None
        or kwargs.get("cache") is not None
    ):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)  # type: ignore[arg-type]
    output = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=float(kwargs.get("dropout") or 0.0),  # type: ignore[arg-type]
        scale=kwargs.get("scaling"), enable_gqa=True,  # type: ignore[arg-type]
    )  # fmt: skip
    return output.transpose(1, 2).contiguous(), None


# registered under its own name (masks made as for "sdpa") and asked for when a model is loaded
GROUPED_SDPA = "chatrec_sdpa_grouped"
AttentionInterface.register(GROUPED_SDPA, sdpa_grouped_attention)
AttentionMaskInterface.register(GROUPED_SDPA, sdpa_mask)


def shared_prefix_length(encoded: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with (at least one token of each prompt is left over)."""
    shortest = min(len(e) for e in encoded)
    shared = 0
    while shared < shortest - 1 and all(e[shared] == encoded[0][shared] for e in encoded):
        shared += 1
    return shared


class LabelGrammar(LogitsProcessor):
    """Allows `label (sep label){k-1} eos` over single-token labels, each label at most once."""

    def __init__(self, prompt_length: int, label_tokens: list[dict[int, str]], sep_id: int, eos_id: int, k: int):
        self.prompt_length = prompt_length
        self.label_tokens = label_tokens  # per batch row: token id -> label (both " A" and "A" spellings)
        self.sep_id = sep_id
        self.eos_id = eos_id
        self.k = k

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        mask = torch.full_like(scores, float("-inf"))
        for row in range(input_ids.shape[0]):
            generated = input_ids[row, self.prompt_length :].tolist()
            tokens = self.label_tokens[row]
            used = {tokens[t] for t in generated if t in tokens}
            if generated and generated[-1] in tokens:
                mask[row, self.eos_id if len(used) >= self.k else self.sep_id] = 0.0
            elif generated and generated[-1] == self.eos_id:
                mask[row, self.eos_id] = 0.0  # finished rows pad with eos
            else:
                allowed = [t for t, label in tokens.items() if label not in used]
                mask[row, allowed] = 0.0
        return scores + mask


class GuidedText(LogitsProcessor):
    """Greedy decoding kept to what each row's `TextConstraint` allows: of the `search_width` most
    likely next tokens, the first whose text the constraint allows wins (end-of-sequence only where
    the text is complete); everything else is masked. Nothing in the top `search_width` allowed: the
    row ends there (a dead end; the caller cuts back to the longest complete prefix).

    As a logits processor it picks one token per row per model step. `choose` and `forced` serve the
    backend's own decoding loop, which also jumps forward: where the constraint leaves one way on
    (the rest of a title once its first word is chosen), those tokens are the ones greedy decoding
    would pick whatever the model says, so they are appended without a model step each."""

    def __init__(
        self,
        tokenizer: object,
        prompt_length: int,
        constraints: Sequence[TextConstraint],
        eos_ids: set[int],
        pad_id: int,
        search_width: int = 256,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.constraints = constraints
        self.eos_ids = eos_ids
        self.eos_id = min(eos_ids)
        self.pad_id = pad_id
        self.search_width = search_width
        self.dead_ends = [False] * len(constraints)
        self._first: dict[str, int] = {}

    def first_token(self, text: str) -> int:
        if text not in self._first:
            self._first[text] = self.tokenizer.encode(text, add_special_tokens=False)[0]  # type: ignore[attr-defined]
        return self._first[text]

    def _text(self, constraint: TextConstraint, tokens: list[int]) -> str:
        return constraint.start + self.tokenizer.decode(tokens, skip_special_tokens=True)  # type: ignore[attr-defined]

    def choose(self, row: int, generated: list[int], scores: np.ndarray) -> int | None:
        """Row `row`'s next token after `generated` given the model's `scores`; None: a dead end."""
        constraint = self.constraints[row]
        return choose_guided_token(
            constraint,
            self._text(constraint, generated),
            scores,
            lambda token: self._text(constraint, [*generated, token]),
            self.first_token,
            self.eos_ids,
            self.search_width,
        )

    def forced(self, row: int, generated: list[int], limit: int) -> list[int]:
        """The tokens (at most `limit`) that greedy guided decoding appends after `generated` without a
        choice: while the constraint's listed continuations all begin with the same token and the text
        cannot end, the pool `choose_guided_token` picks from is that one token (end-of-sequence is not
        allowed), so the pick does not depend on the model's scores (" rated" after " you", when two
        claims go on "you rated ...", as much as the rest of a claim once its first word is chosen)."""
        constraint = self.constraints[row]
        tokens: list[int] = []
        while len(tokens) < limit:
            text = self._text(constraint, [*generated, *tokens])
            listed = constraint.continuations(text)
            if not listed or not all(listed) or constraint.complete(text):
                break
            firsts = {self.first_token(continuation) for continuation in listed}
            if len(firsts) != 1:
                break
            token = firsts.pop()
            if token in self.eos_ids or not constraint.allows(self._text(constraint, [*generated, *tokens, token])):
                break  # greedy decoding would search the model's likeliest tokens here: a real choice
            tokens.append(token)
        return tokens

    def ended(self, row: int, generated: list[int]) -> bool:
        """Whether the row's answer can only end here: the text is complete and the constraint lists
        nothing that may follow (a slot explanation after its full stop). Greedy decoding would spend a
        model step to pick end-of-sequence, or, not finding it among the likeliest tokens, cut back to
        this same text: either way the answer is this text, so no step is spent on it."""
        constraint = self.constraints[row]
        text = self._text(constraint, generated)
        listed = constraint.continuations(text)
        return listed is not None and not listed and constraint.complete(text)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        chosen = []
        for row in range(len(self.constraints)):
            generated = input_ids[row, self.prompt_length :].tolist()
            if generated and generated[-1] in self.eos_ids | {self.pad_id}:
                chosen.append(self.eos_id)  # finished rows pad with end-of-sequence
                continue
            pick = self.choose(row, generated, scores[row].float().cpu().numpy())
            if pick is None:
                self.dead_ends[row] = True
                pick = self.eos_id
            chosen.append(pick)
        mask = torch.full_like(scores, float("-inf"))
        mask[torch.arange(len(chosen)), torch.tensor(chosen)] = 0.0
        return scores + mask


def _load_model(location: str | Path, dtype: torch.dtype, attention: str) -> torch.nn.Module:
    try:
        return AutoModelForCausalLM.from_pretrained(location, dtype=dtype, attn_implementation=attention)
    except ValueError:  # a model whose code does not take transformers' attention functions: its own
        log.info("LLM %s does not take attention %r: loaded with its default", location, attention)
        return AutoModelForCausalLM.from_pretrained(location, dtype=dtype)


class TransformersBackend(LLMBackend):
    # guided decoding feeds forced tokens together (`_guided_batch`); False: one token per model step
    # through `model.generate` (the reference the benchmark and the tests compare it with)
    jump_forward: bool = True
    # the attention the model is loaded with; "sdpa": transformers' own (the benchmark's baseline)
    attention: str = GROUPED_SDPA

    def __init__(
        self,
        model: str | Path,
        *,
        cache_dir: Path,
        device: str = "cpu",
        batch_size: int = 8,
        adapter: Path | None = None,
        int8: bool = False,
    ) -> None:
        reference = resolve_llm_model(model)
        if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            raise LLMError(f"LLM adapter folder {adapter} has no adapter_config.json (is it a peft LoRA adapter?)")
        try:
            location = ensure_loadable(reference, cache_dir)
            self.tokenizer = AutoTokenizer.from_pretrained(location)
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            self.model = _load_model(location, dtype, self.attention).to(device).eval()
            if adapter is not None:
                from peft import PeftModel

                # merged into the weights: inference then costs exactly what the base model costs
                self.model = PeftModel.from_pretrained(self.model, str(adapter)).merge_and_unload().eval()
            if int8 and device == "cpu":
                self.model = quantize_int8(self.model)
        except OSError as exc:
            raise LLMError(f"cannot load LLM {model!r}{f' with adapter {adapter}' if adapter else ''}: {exc}") from exc
        self.name = str(model)
        self.adapter = adapter
        self.device = device
        self.batch_size = batch_size
        self.int8 = int8 and device == "cpu"
        self._kept_prefix: tuple[list[int], DynamicCache] | None = None
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._sep_id = self._single_token(",")

    # --- prompt encoding -------------------------------------------------------------------------
    def render(self, chat: Chat) -> str:
        """The exact text the model reads: its chat template, or plain role-prefixed turns without one."""
        return render_chat(self.tokenizer, chat)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _single_token(self, text: str) -> int:
        return single_token(self.tokenizer, text, self.name)

    def _label_tokens(self, labels: Sequence[str]) -> dict[int, str]:
        return label_tokens(self.tokenizer, labels, self.name)

    def _batches(self, n: int) -> list[range]:
        return [range(start, min(start + self.batch_size, n)) for start in range(0, n, self.batch_size)]

    def _token_batches(self, lengths: Sequence[int]) -> list[range]:
        """Consecutive rows, at most `batch_size` and `SCORING_TOKENS_PER_PASS` padded tokens per pass
        (a longer prompt goes alone)."""
        batches: list[range] = []
        start = 0
        while start < len(lengths):
            end, longest = start + 1, lengths[start]
            while end < len(lengths) and end - start < self.batch_size:
                wider = max(longest, lengths[end])
                if wider * (end - start + 1) > SCORING_TOKENS_PER_PASS:
                    break
                end, longest = end + 1, wider
            batches.append(range(start, end))
            start = end
        return batches

    def _encode(self, texts: list[str]) -> dict[str, torch.Tensor]:
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {key: value.to(self.device) for key, value in encoded.items()}

    def _prefixed(self, texts: list[str]) -> tuple[dict[str, object], list[int]]:
        """Inputs for `model.generate` continuing each text: the batch's shared token prefix runs once
        here (its cache copied to every row), each text's own suffix left-padded after it (the mask
        hides the padding; generate numbers positions from the mask, so the suffix follows the prefix).
        Also each row's prompt token count."""
        encoded = [self.tokenizer.encode(text, add_special_tokens=False) for text in texts]
        shared = shared_prefix_length(encoded)
        if len(encoded) < 2 or shared < MIN_SHARED_PREFIX:
            return self._encode(texts), [len(e) for e in encoded]
        cache = self._prefix_cache(encoded, shared)
        shared = cache.get_seq_length()
        prefix = encoded[0][:shared]
        cache.batch_repeat_interleave(len(encoded))
        suffixes = [e[shared:] for e in encoded]
        width = max(len(x) for x in suffixes)
        pad = self.tokenizer.pad_token_id
        ids = [prefix + [pad] * (width - len(x)) + x for x in suffixes]
        mask = [[1] * shared + [0] * (width - len(x)) + [1] * len(x) for x in suffixes]
        inputs = {
            "input_ids": torch.tensor(ids, device=self.device),
            "attention_mask": torch.tensor(mask, device=self.device),
            "past_key_values": cache,
        }
        return inputs, [len(e) for e in encoded]

    def _prefix_cache(self, encoded: list[list[int]], shared: int) -> DynamicCache:
        """A copy of the key/value cache of the prompts' shared prefix. The last one computed is kept:
        batch after batch of one task shares the system prompt and instruction, so it runs once."""
        kept = self._kept_prefix
        if kept is None or not all(len(e) > len(kept[0]) and e[: len(kept[0])] == kept[0] for e in encoded):
            prefix = encoded[0][:shared]
            with torch.inference_mode():  # a cache with autograd history cannot be copied
                cache = self.model(torch.tensor([prefix], device=self.device), use_cache=True).past_key_values
            kept = self._kept_prefix = (prefix, cache)
        return copy.deepcopy(kept[1])

    # --- the interface ---------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, chats: Sequence[Chat], *, max_new_tokens: int = 64) -> list[Generation]:
        results: list[Generation] = []
        for batch in self._batches(len(chats)):
            inputs, lengths = self._prefixed([self.render(chats[i]) for i in batch])
            output = self.model.generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=self.tokenizer.pad_token_id
            )
            width = inputs["input_ids"].shape[1]  # type: ignore[attr-defined]
            for row, sequence in enumerate(output):
                new = sequence[width:]
                new = new[new != self.tokenizer.pad_token_id]
                results.append(
                    Generation(
                        text=self.tokenizer.decode(new, skip_special_tokens=True).strip(),
                        prompt_tokens=lengths[row],
                        completion_tokens=len(new),
                    )
                )
        return results

    @torch.inference_mode()
    def generate_guided(
        self, chats: Sequence[Chat], constraints: Sequence[TextConstraint], *, max_new_tokens: int = 64
    ) -> list[Generation]:
        """Constrained inside decoding (`GuidedText`): every token is the most likely one the constraint
        allows; a dead end or the token limit is cut back to the longest complete prefix ("" if none).
        Tokens the constraint leaves no choice about go through the model together (`_guided_batch`)."""
        results: list[Generation] = []
        eos_ids = set(self._eos_ids())
        for batch in self._batches(len(chats)):
            rows = [constraints[i] for i in batch]
            inputs, lengths = self._prefixed([self.render(chats[i]) + constraints[i].start for i in batch])
            if self.jump_forward:
                guide = GuidedText(self.tokenizer, 0, rows, eos_ids, self.tokenizer.pad_token_id)
                decoded = self._guided_batch(inputs, guide, max_new_tokens)
            else:
                decoded = self._guided_stepwise(inputs, rows, eos_ids, max_new_tokens)
            for row, (constraint, new) in enumerate(zip(rows, decoded, strict=True)):
                # complete unless decoding hit a dead end or the token limit: then cut back
                prefixes = [
                    constraint.start + self.tokenizer.decode(new[:n], skip_special_tokens=True)
                    for n in range(len(new) + 1)
                ]
                text = longest_complete_prefix(prefixes, constraint)
                results.append(
                    Generation(
                        text=text.strip(),
                        prompt_tokens=lengths[row],
                        completion_tokens=len(new),
                        raw="" if text == prefixes[-1] else prefixes[-1],
                    )
                )
        return results

    def _guided_stepwise(
        self, inputs: dict[str, object], rows: list[TextConstraint], eos_ids: set[int], max_new_tokens: int
    ) -> list[list[int]]:
        """One token per model step: `GuidedText` as a logits processor of `model.generate`."""
        width = inputs["input_ids"].shape[1]  # type: ignore[attr-defined]
        guide = GuidedText(self.tokenizer, width, rows, eos_ids, self.tokenizer.pad_token_id)
        output = self.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            logits_processor=LogitsProcessorList([guide]),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        ignore = eos_ids | {self.tokenizer.pad_token_id}
        return [[t for t in output[row, width:].tolist() if t not in ignore] for row in range(len(rows))]

    def _guided_batch(self, inputs: dict[str, object], guide: GuidedText, max_new_tokens: int) -> list[list[int]]:
        """Greedy guided decoding of one batch (inputs as `_prefixed` makes them): each row's new tokens,
        end-of-sequence excluded. One model step per choice, not per token: after each chosen token the
        row's forced tokens (`GuidedText.forced`) join it, so a step feeds each row one or more tokens,
        left-padded to the longest (the mask hides the padding, positions count real tokens only).
        Finished rows leave the batch (their cache rows are dropped)."""
        pending = inputs["input_ids"]
        mask = inputs["attention_mask"]
        cache = inputs.get("past_key_values")
        assert isinstance(pending, torch.Tensor) and isinstance(mask, torch.Tensor)
        if cache is not None:  # the ids start with the cached prefix (as `generate` takes them): skip it
            pending = pending[:, cache.get_seq_length() :]  # type: ignore[attr-defined]
        pad = self.tokenizer.pad_token_id
        generated: list[list[int]] = [[] for _ in guide.constraints]
        active = list(range(len(guide.constraints)))  # batch row -> request row
        while active:
            positions = mask.long().cumsum(-1) - 1
            positions.masked_fill_(mask == 0, 1)
            output = self.model(
                input_ids=pending,
                attention_mask=mask,
                position_ids=positions[:, -pending.shape[1] :],
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,  # projecting every prompt position onto the vocabulary: ~15% of the model time
            )
            cache = output.past_key_values
            scores = output.logits[:, -1, :].float().cpu().numpy()
            keep, feeds = [], []
            for batch_row, row in enumerate(active):
                token = guide.choose(row, generated[row], scores[batch_row])
                if token is None:
                    guide.dead_ends[row] = True
                    continue
                if token in guide.eos_ids:
                    continue
                new = [token, *guide.forced(row, [*generated[row], token], max_new_tokens - len(generated[row]) - 1)]
                generated[row] += new
                if len(generated[row]) < max_new_tokens and not guide.ended(row, generated[row]):
                    keep.append(batch_row)
                    feeds.append(new)
            if not keep:
                break
            if len(keep) < len(active):
                selected = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(selected)
                mask = mask[selected]
                active = [active[i] for i in keep]
            width = max(len(f) for f in feeds)
            pending = torch.tensor([[pad] * (width - len(f)) + f for f in feeds], device=self.device)
            step_mask = torch.tensor([[0] * (width - len(f)) + [1] * len(f) for f in feeds], device=self.device)
            mask = torch.cat([mask, step_mask.to(mask.dtype)], dim=1)
        return generated

    def _eos_ids(self) -> list[int]:
        configured = self.model.generation_config.eos_token_id
        ids = configured if isinstance(configured, list) else [configured]
        return [i for i in [*ids, self.tokenizer.eos_token_id] if i is not None]

    @torch.inference_mode()
    def rank(self, chats: Sequence[Chat], labels: Sequence[Sequence[str]], k: int) -> list[Ranking]:
        results: list[Ranking] = []
        eos = self.tokenizer.eos_token_id
        for batch in self._batches(len(chats)):
            inputs = self._encode([self.render(chats[i]) for i in batch])
            width = inputs["input_ids"].shape[1]
            label_tokens = [self._label_tokens(labels[i]) for i in batch]
            for i in batch:
                if len(set(labels[i])) < k:
                    raise ValueError(f"cannot rank {k} distinct items out of {len(set(labels[i]))} candidates")
            grammar = LabelGrammar(width, label_tokens, self._sep_id, eos, k)
            output = self.model.generate(
                **inputs,
                max_new_tokens=2 * k,
                do_sample=False,
                logits_processor=LogitsProcessorList([grammar]),
                pad_token_id=self.tokenizer.pad_token_id,
            )
            for row in range(len(batch)):
                new = output[row, width:].tolist()
                ranked = [label_tokens[row][t] for t in new if t in label_tokens[row]]
                raw = self.tokenizer.decode(new, skip_special_tokens=True).strip()
                # the grammar makes these checks hold by construction; they are kept so a broken
                # processor shows up as invalid output in the metrics instead of silently
                valid = len(ranked) == k and len(set(ranked)) == k
                results.append(
                    Ranking(
                        labels=ranked, valid=valid, invented=0, duplicates=len(ranked) - len(set(ranked)),
                        prompt_tokens=int(inputs["attention_mask"][row].sum()), raw=raw,
                    )
                )  # fmt: skip
        return results

    def _last_logprobs(
        self, encoded: list[list[int]], prefix_cache: object | None = None, shared: int = 0
    ) -> np.ndarray:
        """Next-token log-probabilities after each prompt (token ids). The shared prefix's cache (given,
        or computed here when the rows share one) is copied to every row and only the suffixes run,
        right-padded: causal attention keeps a row's last real token from seeing its padding."""
        if prefix_cache is None:
            shared = shared_prefix_length(encoded) if len(encoded) > 1 else 0
            if shared >= MIN_SHARED_PREFIX:
                prefix = torch.tensor([encoded[0][:shared]], device=self.device)
                prefix_cache = self.model(prefix, use_cache=True).past_key_values
            else:
                shared = 0
        suffixes = [e[shared:] for e in encoded]
        width = max(len(x) for x in suffixes)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([x + [pad] * (width - len(x)) for x in suffixes], device=self.device)
        mask = torch.tensor([[1] * (shared + len(x)) + [0] * (width - len(x)) for x in suffixes], device=self.device)
        cache = None
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(len(encoded))  # type: ignore[attr-defined]
        last = torch.tensor([[len(x) - 1] for x in suffixes], device=self.device)
        # logits at each row's last prompt token only: the vocabulary projection of all ~1000 positions
        # of a re-rank prompt would cost ~15% of the model time (a profile of the LLM stage)
        logits = self.model(
            ids, attention_mask=mask, past_key_values=cache, use_cache=cache is not None, logits_to_keep=last
        ).logits
        return torch.log_softmax(logits[:, -1].float(), dim=-1).cpu().numpy()

    def _option_values(self, logprobs: np.ndarray, option_tokens: Sequence[Sequence[int]]) -> np.ndarray:
        values = [np.logaddexp.reduce([logprobs[t] for t in ids]) for ids in option_tokens]
        return normalise_logprobs(np.asarray(values, dtype=np.float64))

    @torch.inference_mode()
    def option_logprobs(self, chats: Sequence[Chat], options: Sequence[Sequence[str]]) -> list[np.ndarray]:
        results: list[np.ndarray] = []
        prompts = [self.tokenizer.encode(self.render(chat), add_special_tokens=False) for chat in chats]
        for batch in self._token_batches([len(p) for p in prompts]):
            logprobs = self._last_logprobs([prompts[i] for i in batch])
            for row, i in enumerate(batch):
                option_tokens = [list(self._label_tokens([option])) for option in options[i]]
                results.append(self._option_values(logprobs[row], option_tokens))
        return results

    @torch.inference_mode()
    def option_logprobs_grouped(
        self, groups: Sequence[Sequence[Chat]], options: Sequence[str]
    ) -> list[list[np.ndarray]]:
        """Pointwise prompts of one user differ only at the end: the shared token prefix is run once
        and its key/value cache reused for each prompt's suffix (~20x less work for 20 candidates)."""
        option_tokens = [list(self._label_tokens([o])) for o in options]
        results: list[list[np.ndarray]] = []
        for group in groups:
            encoded = [self.tokenizer.encode(self.render(chat), add_special_tokens=False) for chat in group]
            shared = shared_prefix_length(encoded)
            prefix = torch.tensor([encoded[0][:shared]], device=self.device)
            prefix_cache = self.model(prefix, use_cache=True).past_key_values
            scores = []
            for batch in self._batches(len(encoded)):
                logprobs = self._last_logprobs([encoded[i] for i in batch], prefix_cache, shared)
                scores += [self._option_values(row, option_tokens) for row in logprobs]
            results.append(scores)
        return results

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = []
        for batch in self._batches(len(texts)):
            inputs = self._encode([texts[i] for i in batch])
            hidden = self.model(**inputs, output_hidden_states=True).hidden_states[-1].float()
            mask = inputs["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            vectors.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(vectors) if vectors else np.zeros((0, self.model.config.hidden_size))

    @torch.inference_mode()
    def top_logprobs(self, chat: Chat, n: int) -> list[tuple[str, float]]:
        """The `n` most likely next tokens after the prompt (what an OpenAI `top_logprobs` reply lists)."""
        inputs = self._encode([self.render(chat)])
        logprobs = torch.log_softmax(self.model(**inputs).logits[0, -1, :].float(), dim=-1)
        values, ids = torch.topk(logprobs, n)
        return [(self.tokenizer.decode([i]), float(v)) for i, v in zip(ids.tolist(), values.tolist(), strict=True)]
