"""LLM-phrased explanations of recommendations, checked against the evidence they may use.

The system computes the evidence (`chatrec.explain.evidence`); the LLM only phrases it. Each
phrasing is checked before it is shown: it must be one or two sentences, name no catalogue title
other than the recommended item and the history items in its evidence, state no number the evidence
does not hold, and carry no links or markup. A failed check falls back to the template sentence built
from the same evidence, and the row records the fallback and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from chatrec.explain.claims import mask_spans, number_claim_failure
from chatrec.explain.evidence import Evidence, template_explanation
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.prompts import PromptBuilder

_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")
_ARTICLE_SUFFIX = re.compile(r"^(?P<body>.+), (?P<article>The|A|An|La|Le|Les|Il|Das|Der|Die|El)$")
_YEAR_AFTER = re.compile(r"\s*\((?P<year>\d{4})\)")
_RATED_CLAIM = re.compile(r"\brated\s+\"?(?P<title>[^\"]+?)\"?\s+(?P<rating>\d+(?:\.\d+)?)(?:\s*/\s*5)?", re.IGNORECASE)
# "you/the user (already) liked/watched/rated <title>", "you've seen <title>", "as a fan of <title>":
# past tense about the reader, right before a title
_KNOWS = re.compile(
    r"(\b(you|user)(\'ve|\'d|\s+have|\s+had)?\b(\s+\w+){0,2}\s+(liked|loved|enjoyed|watched|saw|seen|rated|gave|"
    r"adored|viewed|rewatched|re-watched|owned|own|bought|remember)"
    r"|\b(as\s+a|you\'re\s+a|you\s+are\s+a)\s+(big\s+)?fan\s+of)\s+(the\s+(movie|film)\s+)?\"?$",
    re.IGNORECASE,
)
_FORBIDDEN = re.compile(r"https?://|www\.|<[^>]+>|\bignore (all|previous|the above)\b", re.IGNORECASE)
MAX_CHARS = 300


def title_forms(title: str) -> set[str]:
    """The ways a catalogue title shows up in prose: "Usual Suspects, The (1995)" is also
    "The Usual Suspects" and "Usual Suspects"."""
    bare = _YEAR_SUFFIX.sub("", title).strip()
    forms = {title.strip(), bare}
    match = _ARTICLE_SUFFIX.match(bare)
    if match:
        forms |= {match["body"], f"{match['article']} {match['body']}"}
    return {f for f in forms if f}


def evidence_facts(evidence: Evidence) -> list[str]:
    """The evidence as short statements for the prompt (and nothing the template could not say)."""
    facts = []
    for history in evidence.similar_history:
        did = (
            f'rated "{history["title"]}" {history["rating"]:g}/5'
            if history["rating"] is not None
            else f'chose "{history["title"]}"'  # implicit feedback: no rating to quote
        )
        facts.append(
            f'The user {did}; {history["co_likers"]} people liked both "{history["title"]}" and "{evidence.title}".'
        )
    if evidence.shared_genres:
        facts.append(
            f'"{evidence.title}" is {", ".join(evidence.shared_genres)}, genres of '
            f"{evidence.favourite_genre_share:.0%} of the user's favourite movies."
        )
    if not facts:
        facts.append(f'"{evidence.title}" is popular with people whose ratings resemble the user\'s.')
    return facts


class ExplanationChecker:
    """Checks a phrased explanation against the catalogue and the evidence."""

    def __init__(self, titles: Iterable[str], genres: Iterable[str] = (), *, min_form_chars: int = 4) -> None:
        # genre names of the catalogue: a genre the explanation names must be one the evidence shares
        self.genres = {g.casefold() for g in genres if g and g != "unknown"}
        self.genre_pattern = (
            re.compile(
                r"(?<!\w)(" + "|".join(re.escape(g) for g in sorted(self.genres, key=len, reverse=True)) + r")(?!\w)",
                re.IGNORECASE,
            )
            if self.genres
            else None
        )
        # one regex over every catalogue title form; very short forms ("If....", "Ed") would match
        # ordinary words, so they are not policed (the template fallback never needs them)
        self.form_to_title: dict[str, str] = {}
        for title in titles:
            for form in title_forms(title):
                if len(form) >= min_form_chars:
                    self.form_to_title.setdefault(form.casefold(), title)
        forms = sorted(self.form_to_title, key=len, reverse=True)
        self.pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(f) for f in forms) + r")(?!\w)", re.IGNORECASE)

    @classmethod
    def from_items(cls, items: pl.DataFrame) -> ExplanationChecker:
        """A checker for a catalogue frame (item_id, title, genres)."""
        genres = items["genres"].explode().drop_nulls().unique().to_list() if "genres" in items.columns else []
        return cls(items["title"].to_list(), genres)

    def mentioned_titles(self, text: str) -> set[str]:
        return {self.form_to_title[m.group(1).casefold()] for m in self.pattern.finditer(text)}

    def _grounded(self, text: str, evidence: Evidence) -> bool:
        """At least one piece of evidence is stated: a history title, a shared genre or a count."""
        history = {h["title"] for h in evidence.similar_history}
        if self.mentioned_titles(text) & history:
            return True
        lowered = text.casefold()
        if any(g.casefold() in lowered for g in evidence.shared_genres):
            return True
        counts = {str(h["co_likers"]) for h in evidence.similar_history} | {
            f"{round(evidence.favourite_genre_share * 100)}%"
        }
        return any(c in text for c in counts) or (not history and not evidence.shared_genres)

    @staticmethod
    def _check_claims(text: str, evidence: Evidence) -> str | None:
        """Numbers in the roles the evidence gives them: ratings, co-liker counts, genre shares."""
        # counts and shares in every form are read by chatrec.explain.claims (check's last step)
        return _rating_claims_ok(text, evidence)

    def check(self, text: str, evidence: Evidence) -> str | None:
        """None when the explanation passes, else the reason it failed."""
        stripped = text.strip()
        if not stripped:
            return "empty"
        if len(stripped) > MAX_CHARS:
            return f"longer than {MAX_CHARS} characters"
        if stripped.count(".") + stripped.count("!") + stripped.count("?") > 3 or "\n" in stripped:
            return "more than two sentences"
        if _FORBIDDEN.search(stripped):
            return "contains a link, markup or an instruction"
        allowed = {evidence.title} | {h["title"] for h in evidence.similar_history}
        invented = sorted(self.mentioned_titles(stripped) - allowed)
        if invented:
            return f"names titles not in the evidence: {'; '.join(invented[:3])}"
        recommended = {f.casefold() for f in title_forms(evidence.title)}
        for match in self.pattern.finditer(stripped):
            before = stripped[max(0, match.start() - 25) : match.start()]
            if match.group(1).casefold() in recommended and _KNOWS.search(before):
                return f'claims the user already knows the recommended "{evidence.title}"'
        if self.genre_pattern is not None:
            shared = {g.casefold() for g in evidence.shared_genres}
            unshared = sorted({m.group(1).casefold() for m in self.genre_pattern.finditer(stripped)} - shared)
            if unshared:
                return f"names genres the evidence does not share: {', '.join(unshared)}"
        if not self._grounded(stripped, evidence):
            return "states none of the evidence"
        claim_failure = self._check_claims(stripped, evidence)
        if claim_failure:
            return claim_failure
        # every other number must be one the evidence holds in the role the sentence gives it
        return number_claim_failure(mask_spans(stripped, self.title_spans(stripped)), evidence)

    def title_spans(self, text: str) -> list[tuple[int, int]]:
        """Where catalogue titles are named, with a "(year)" right after one when it is that title's year:
        numbers inside them ("12 Angry Men (1957)") belong to the title, not to a claim."""
        spans = []
        for match in self.pattern.finditer(text):
            end = match.end()
            year = _YEAR_SUFFIX.search(self.form_to_title[match.group(1).casefold()])
            after = _YEAR_AFTER.match(text, end)
            if year and after and after["year"] in year.group():
                end = after.end()
            spans.append((match.start(), end))
        return spans


def _rating_claims_ok(text: str, evidence: Evidence) -> str | None:
    def forms(title: str) -> set[str]:
        return {f.casefold() for f in title_forms(title)}

    recommended = forms(evidence.title)
    for claim in _RATED_CLAIM.finditer(text):
        claimed = claim["title"].strip().casefold()
        if claimed in recommended:
            return f'claims the user rated the recommended "{evidence.title}"'
        for history in evidence.similar_history:
            if claimed not in forms(history["title"]):
                continue
            if history["rating"] is None:
                return f'claims a rating for "{claim["title"]}"; the user gave none (implicit feedback)'
            if abs(history["rating"] - float(claim["rating"])) > 1e-9:
                return (
                    f'claims a rating of {claim["rating"]} for "{claim["title"]}"; the user gave {history["rating"]:g}'
                )
    return None


@dataclass(frozen=True)
class Explanation:
    user_id: str
    item_id: str
    text: str
    source: str  # "llm" | "template"
    check_passed: bool  # False: the LLM's phrasing failed the check and the template was used
    check_failure: str | None
    completion_tokens: int = 0


class LLMExplainer:
    def __init__(
        self, backend: LLMBackend, builder: PromptBuilder, checker: ExplanationChecker, *, max_new_tokens: int = 60
    ):
        self.backend = backend
        self.builder = builder
        self.checker = checker
        self.max_new_tokens = max_new_tokens

    def explain(self, requests: Sequence[tuple[str, str, Evidence]]) -> list[Explanation]:
        chats = [self.builder.explain(evidence.title, evidence_facts(evidence)) for _, _, evidence in requests]
        generations = self.backend.generate(chats, max_new_tokens=self.max_new_tokens)
        results = []
        for (user, item, evidence), generation in zip(requests, generations, strict=True):
            failure = self.checker.check(generation.text, evidence)
            if failure is None:
                results.append(
                    Explanation(user, item, generation.text.strip(), "llm", True, None, generation.completion_tokens)
                )
            else:
                results.append(
                    Explanation(
                        user,
                        item,
                        template_explanation(evidence),
                        "template",
                        False,
                        failure,
                        generation.completion_tokens,
                    )
                )
        return results
