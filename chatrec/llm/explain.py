"""LLM-phrased explanations of recommendations, checked against the evidence they may use.

The system computes the evidence (`chatrec.explain.evidence`); the LLM only phrases it. Each
phrasing is checked before it is shown: it must be one or two sentences, name no catalogue title
other than the recommended item and the history items in its evidence, state no number the evidence
does not hold, and carry no links or markup. A failed check falls back to the template sentence built
from the same evidence, and the row records the fallback and why.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import polars as pl

from chatrec.explain.claims import (
    _NUMBER,
    _VAGUE_COUNTS,
    _VAGUE_MINIMUM,
    RATING_SCALE_MAX,
    mask_spans,
    number_claim_failure,
    read_number_words,
)
from chatrec.explain.evidence import Evidence, people, template_explanation
from chatrec.llm.backends.base import LLMBackend, TextConstraint
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
_TERMINATORS = re.compile(r"[.!?]")
_OPEN_WORD = re.compile(r"\w*$")
_GLUED_WORDS = re.compile(r"[a-z][A-Z]")
_GLUED_DIGIT = re.compile(r"[^\W\d]\d+|\d+[^\W\d]")
# how a guided explanation may go on after a number of the evidence: the words that give it its role
SHARE_SUFFIXES = ("%", " percent")
RATING_SUFFIXES = (f"/{RATING_SCALE_MAX}", f" out of {RATING_SCALE_MAX}", " stars")


def title_forms(title: str) -> set[str]:
    """The ways a catalogue title shows up in prose: "Usual Suspects, The (1995)" is also
    "The Usual Suspects" and "Usual Suspects"."""
    bare = _YEAR_SUFFIX.sub("", title).strip()
    forms = {title.strip(), bare}
    match = _ARTICLE_SUFFIX.match(bare)
    if match:
        forms |= {match["body"], f"{match['article']} {match['body']}"}
    return {f for f in forms if f}


def display_title(title: str) -> str:
    """How an explanation names a title: "Usual Suspects, The (1995)" -> "The Usual Suspects"."""
    bare = _YEAR_SUFFIX.sub("", title).strip() or title.strip()
    match = _ARTICLE_SUFFIX.match(bare)
    return f"{match['article']} {match['body']}" if match else bare


def evidence_claims(evidence: Evidence) -> list[str]:
    """The evidence as claims addressed to the user, titles as prose names them: the phrases a guided
    explanation is built from (slots) or steered toward (the guided prompt lists them)."""
    title = display_title(evidence.title)
    claims = []
    for history in evidence.similar_history:
        liked = display_title(history["title"])
        claims.append(
            f"you rated {liked} {history['rating']:g}/5" if history["rating"] is not None else f"you liked {liked}"
        )
        if history["co_likers"] > 0:
            claims.append(f"{people(history['co_likers'])} liked both {liked} and {title}")
    if evidence.shared_genres:
        genres = ", ".join(g.lower() for g in evidence.shared_genres)
        claims.append(f"it is {genres}, like {evidence.favourite_genre_share:.0%} of your favourites")
    return claims


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
        self.sorted_forms = sorted(self.form_to_title)  # for "could this still grow into a longer title?"
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

    def may_grow_into_title(self, text: str, allowed: set[str]) -> bool:
        """Whether `text` (from where a title match starts to the end of what is written so far) is the
        start of a longer form of an allowed title: the match seen so far may not be the one that ends
        up there ("Heat " on the way to "Heat and Dust")."""
        start = text.casefold()
        at = bisect.bisect_left(self.sorted_forms, start)
        while at < len(self.sorted_forms) and self.sorted_forms[at].startswith(start):
            form = self.sorted_forms[at]
            if form != start and self.form_to_title[form] in allowed:
                return True
            at += 1
        return False

    def prefix_failure(self, text: str, evidence: Evidence, *, final: bool = False) -> str | None:
        """None while `text` can still be completed into an explanation that passes `check`, else why not.

        Judged on the words finished so far (a word still being written may grow into another one),
        with the same title, genre, claim and link rules as `check`. Numbers are stricter than `check`:
        each must be one the evidence holds and be followed by the words of its role ("42%", "5/5",
        "131 people liked both Fargo and The Usual Suspects": a count with the pair it counts), so every
        number is settled as soon as it is written. A prefix that passes may
        still fail at the end (e.g. stating none of the evidence): `check` has the last word.
        `final`: `text` is the whole answer (no word or number still being written).
        """
        stripped = text.lstrip()
        if len(stripped) > MAX_CHARS:
            return f"longer than {MAX_CHARS} characters"
        if len(_TERMINATORS.findall(stripped)) > 3 or "\n" in stripped:
            return "more than two sentences"
        open_word = None if final else _OPEN_WORD.search(stripped)
        closed = stripped[: open_word.start()] if open_word else stripped
        if _FORBIDDEN.search(closed):
            return "contains a link, markup or an instruction"
        allowed = {evidence.title} | {h["title"] for h in evidence.similar_history}
        recommended = {f.casefold() for f in title_forms(evidence.title)}
        for match in self.pattern.finditer(closed):
            title = self.form_to_title[match.group(1).casefold()]
            if self.may_grow_into_title(stripped[match.start() :], allowed):
                continue
            if title not in allowed:
                return f"names titles not in the evidence: {title}"
            before = closed[max(0, match.start() - 25) : match.start()]
            if match.group(1).casefold() in recommended and _KNOWS.search(before):
                return f'claims the user already knows the recommended "{evidence.title}"'
        if self.genre_pattern is not None:
            shared = {g.casefold() for g in evidence.shared_genres}
            unshared = sorted({m.group(1).casefold() for m in self.genre_pattern.finditer(closed)} - shared)
            if unshared:
                return f"names genres the evidence does not share: {', '.join(unshared)}"
        claim_failure = _rating_claims_ok(closed, evidence)
        if claim_failure:
            return claim_failure
        return self._number_prefix_failure(stripped, closed, evidence, final=final)

    def _number_prefix_failure(self, text: str, closed: str, evidence: Evidence, *, final: bool) -> str | None:
        co_likers = [int(h["co_likers"]) for h in evidence.similar_history]
        for vague in _VAGUE_COUNTS.finditer(read_number_words(closed)):
            if max(co_likers, default=0) < _VAGUE_MINIMUM[vague["word"].casefold()]:
                return f"claims {vague['word'].lower()} of people"
        roles: dict[str, tuple[str, ...]] = {}
        for history in evidence.similar_history:
            # a count is said with the pair it counts, so it can never be paired with the wrong movie
            key = str(history["co_likers"])
            roles[key] = roles.get(key, ()) + tuple(p.casefold() for p in _count_pairs(history, evidence))
        for history in evidence.similar_history:
            if history["rating"] is not None:
                key = f"{float(history['rating']):g}"
                roles[key] = roles.get(key, ()) + RATING_SUFFIXES
        if evidence.shared_genres:
            key = str(round(evidence.favourite_genre_share * 100))
            roles[key] = roles.get(key, ()) + SHARE_SUFFIXES
        # numbers inside a title (named, or being written out: "12 Angry Men (1957)") are the title's
        spans = self.title_spans(text)
        pending = self._pending_title(text, evidence)
        if pending is not None:
            spans = [span for span in spans if span[1] <= pending] + [(pending, len(text))]
        words = mask_spans(closed, self.title_spans(closed))
        if read_number_words(words) != words:  # "five", "sixty-one", "half of": said in digits or not at all
            return "states a number in words"
        masked = mask_spans(text, spans)
        glued = _GLUED_DIGIT.search(masked)
        if glued:  # "Liar Liar10", "5th": no claim role the check could read, so never one we write
            return f"states numbers not in the evidence: {glued.group()}"
        settled_to = 0
        for match in _NUMBER.finditer(text):
            if match.start() < settled_to or any(start <= match.start() < end for start, end in spans):
                continue  # the "5" of a rating's "out of 5"; a title's own digits
            token = match.group().replace(",", "")
            if match.end() == len(text) and not final:  # may still grow
                if not any(value.startswith(token) for value in roles):
                    return f"states numbers not in the evidence: {token}"
                continue
            value = f"{float(token):g}"
            if value not in roles:
                return f"states numbers not in the evidence: {token}"
            rest = text[match.end() :].casefold()
            role = next((suffix for suffix in roles[value] if rest.startswith(suffix)), None)
            if role is not None:
                settled_to = match.end() + len(role)
            elif final or not any(suffix.startswith(rest) for suffix in roles[value]):
                return f"states {token} without the words of its role in the evidence"
        return None

    def _pending_title(self, text: str, evidence: Evidence) -> int | None:
        """Where an evidence title that is still being written starts, if the text ends inside one."""
        names = set()
        for title in {evidence.title} | {h["title"] for h in evidence.similar_history}:
            year = _YEAR_SUFFIX.search(title)
            for form in title_forms(title):
                names |= {form.casefold(), f"{form} {year.group().strip()}".casefold() if year else ""}
        lowered = text.casefold()
        for start in range(max(0, len(text) - max(map(len, names), default=0)), len(text)):
            if start and text[start - 1].isalnum():
                continue
            tail = lowered[start:]
            if any(name.startswith(tail) and name != tail for name in names if name):
                return start
        return None

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


def _count_pairs(history: dict, evidence: Evidence) -> tuple[str, str]:
    """The words that must follow a co-liker count: the pair of movies it counts."""
    count, liked, title = history["co_likers"], display_title(history["title"]), display_title(evidence.title)
    noun = "person" if count == 1 else "people"
    return f" {noun} liked both {liked} and {title}", f" {noun} who liked {liked} also liked {title}"


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


class ExplanationConstraint(TextConstraint):
    """Guided decoding of one explanation: it starts "You might like <title> because", may only go on
    in ways the checker can still pass (`ExplanationChecker.prefix_failure`), and may only end a
    sentence, or the answer, where the unchanged `ExplanationChecker.check` passes."""

    def __init__(self, checker: ExplanationChecker, evidence: Evidence, start: str | None = None) -> None:
        self.checker = checker
        self.evidence = evidence
        self.start = start if start is not None else f"You might like {display_title(evidence.title)} because"
        self.recommended = {evidence.title}
        self.pairs = [p.strip() for count in evidence.similar_history for p in _count_pairs(count, evidence)]

    def allows(self, text: str) -> bool:
        if self.checker.prefix_failure(text, self.evidence) is not None or not self._tidy(text):
            return False
        # the start names the recommended movie; naming it again (other than in a count's pair, "131 people
        # liked both Fargo and The Usual Suspects") is how a small model loops or says nothing
        rest = text[len(self.start) :] if text.startswith(self.start) else text
        for pair in self.pairs:
            rest = re.sub(re.escape(pair), " ", rest, flags=re.IGNORECASE)
        if self.recommended & {
            self.checker.form_to_title.get(m.group(1).casefold()) for m in self.checker.pattern.finditer(rest)
        }:
            return False
        # a sentence may only end where the explanation already passes (so it states some evidence)
        return not _TERMINATORS.search(text[-2:]) or self.complete(text)

    def complete(self, text: str) -> bool:
        # the check, and every number with the whole of its role ("172 people liked both Star Wars and Toy S"
        # passes the check but is cut short)
        return (
            self.checker.check(text, self.evidence) is None
            and self._tidy(text)
            and self.checker.prefix_failure(text, self.evidence, final=True) is None
        )

    def _tidy(self, text: str) -> bool:
        """No words glued together outside titles ("comedyLEGATO"): a small model's way past the
        word-bounded title and genre rules, never a sentence a reader should get."""
        return not _GLUED_WORDS.search(mask_spans(text, self.checker.title_spans(text)))


# the words a slot-filled explanation may put between its claims (the LLM picks which and where)
CONNECTORS = (
    "and", "also", "and also", "plus", "since", "as", "while", "so", "too", "both", "what is more", "moreover",
    "in addition", "on top of that", "not to mention", "given that", "especially as", "as well as", "besides",
    "because", "which", "and that", "furthermore", "indeed",
)  # fmt: skip
_SEPARATORS = " ,;"
MAX_SLOT_CLAIMS = 2


class SlotConstraint(ExplanationConstraint):
    """Slot-filling: after the start, the explanation is the evidence's claims (`evidence_claims`, each
    at most once, word for word) joined by connecting words from `CONNECTORS`; the LLM chooses which
    claims, their order and the words between them. Every title, genre and number therefore comes
    from the evidence in the role it has there; the unchanged check still has the last word.

    At most `max_claims` claims: one short sentence, as the prompt asks. Without the cap a model that
    strings every claim together (five for two similar movies and a genre: ~80 tokens) runs past the
    token limit and gets the template instead."""

    def __init__(self, checker: ExplanationChecker, evidence: Evidence, max_claims: int = MAX_SLOT_CLAIMS) -> None:
        super().__init__(checker, evidence)
        if max_claims < 1:
            raise ValueError(f"max_claims must be at least 1, got {max_claims}")
        self.written = evidence_claims(evidence)
        self.claims = [c.casefold() for c in self.written]
        self.connectors = [c.casefold() for c in CONNECTORS]
        self.max_claims = max_claims

    def continuations(self, text: str) -> list[str]:
        rest = self._rest(text)
        if rest is None:
            return [self.start[len(text) :]] if self.start.startswith(text) else []
        found: set[str] = set()
        self._next(rest, frozenset(), found)
        return sorted(found)

    def _next(self, rest: str, used: frozenset[int], found: set[str]) -> None:
        """What may follow `rest` (casefolded, after the start), into `found`, as `_parses` reads it."""
        position = 0
        while position < len(rest) and rest[position] in _SEPARATORS:
            position += 1
        gap, rest = rest[:position], rest[position:]
        full = len(used) >= self.max_claims
        if not rest:
            if used:
                found.add(".")
            if full:
                return
            if not gap:
                found.add(",")
            lead = "" if gap.endswith(" ") else " "
            found.update(lead + claim for n, claim in enumerate(self.written) if n not in used)
            found.update(lead + word for word in self.connectors)
            return
        if full:
            return
        for n, claim in enumerate(self.claims):
            if n in used:
                continue
            if rest.startswith(claim):
                self._next(rest[len(claim) :], used | {n}, found)
            elif claim.startswith(rest):
                # the claim as written (its titles' capitals), where casefolding kept its length
                written = self.written[n] if len(self.written[n]) == len(claim) else claim
                found.add(written[len(rest) :])
        for word in self.connectors:
            after = rest[len(word) :]
            if rest.startswith(word) and (not after or not after[0].isalnum()):
                self._next(after, used, found)
            elif word.startswith(rest):
                found.add(word[len(rest) :])

    def _parses(self, rest: str, used: frozenset[int], *, final: bool) -> bool:
        position = 0
        while position < len(rest) and rest[position] in _SEPARATORS:
            position += 1
        if position == 0 and rest[:1].isalnum():
            return False  # words glued to the claim or connector before them
        rest = rest[position:]
        if not rest:
            return not final or bool(used)
        if final and rest in (".", "!"):
            return bool(used)
        if len(used) >= self.max_claims:
            return False  # the sentence is full: only its end may follow
        for n, claim in enumerate(self.claims):
            if n in used:
                continue
            if rest.startswith(claim) and self._parses(rest[len(claim) :], used | {n}, final=final):
                return True
            if not final and claim.startswith(rest):
                return True  # a claim being written
        for word in self.connectors:
            after = rest[len(word) :]
            ends = not after or not after[0].isalnum()
            if rest.startswith(word) and ends and self._parses(after, used, final=final):
                return True
            if not final and word.startswith(rest):
                return True  # a connector being written
        return False

    def _rest(self, text: str) -> str | None:
        return text[len(self.start) :].casefold() if text.startswith(self.start) else None

    def allows(self, text: str) -> bool:
        rest = self._rest(text)
        if rest is None:
            return self.start.startswith(text)
        # text still being written: claims word for word and connecting words, so no title, genre or
        # number can come from outside the evidence (a stop inside a title, "you rated Mr." of "Mr.
        # Holland's Opus", is not the end); the end only where the unchanged check passes
        if self._parses(rest, frozenset(), final=False):
            return True
        return bool(_TERMINATORS.search(rest[-1:])) and self.complete(text)

    def complete(self, text: str) -> bool:
        rest = self._rest(text)
        return rest is not None and self._parses(rest, frozenset(), final=True) and super().complete(text)


@dataclass(frozen=True)
class Explanation:
    user_id: str
    item_id: str
    text: str
    source: str  # "llm" | "template"
    check_passed: bool  # False: the LLM's phrasing failed the check and the template was used
    check_failure: str | None
    completion_tokens: int = 0
    attempts: int = 1  # 2: the first phrasing failed and the retry (told why) was used or failed too
    rejected: str | None = None  # the LLM's phrasing that failed the check (text holds the template then)


# how the LLM is asked to phrase an explanation (docs/llm.md, measured in docs/benchmarks.md):
# free: one prompt per item, free greedy text (the original); retry: free, and a failed phrasing is asked
# for once more with the check's reason; per-user: one prompt per user, one line per item; guided: decoding
# kept to what the check can pass (ExplanationConstraint); slots: decoding kept to the evidence's claims
# joined by connecting words (SlotConstraint)
APPROACHES = ("free", "retry", "per-user", "guided", "slots")
_NUMBERED_LINE = re.compile(r"^\s*(?P<n>\d+)\s*[.):-]\s*(?P<text>.+?)\s*$", re.MULTILINE)


class LLMExplainer:
    def __init__(
        self,
        backend: LLMBackend,
        builder: PromptBuilder,
        checker: ExplanationChecker,
        *,
        max_new_tokens: int = 60,
        approach: str = "slots",
    ):
        if approach not in APPROACHES:
            raise ValueError(f"unknown explanation approach {approach!r}; choose one of {', '.join(APPROACHES)}")
        self.backend = backend
        self.builder = builder
        self.checker = checker
        self.max_new_tokens = max_new_tokens
        self.approach = approach

    def explain(self, requests: Sequence[tuple[str, str, Evidence]]) -> list[Explanation]:
        if self.approach in ("guided", "slots"):
            return self._guided(requests)
        if self.approach == "per-user":
            return self._per_user(requests)
        results = self._free(requests)
        return self.retry_failed(requests, results) if self.approach == "retry" else results

    def _checked(self, request: tuple[str, str, Evidence], text: str, tokens: int, attempts: int = 1) -> Explanation:
        user, item, evidence = request
        failure = self.checker.check(text, evidence)
        if failure is None:
            return Explanation(user, item, text.strip(), "llm", True, None, tokens, attempts)
        return Explanation(
            user, item, template_explanation(evidence), "template", False, failure, tokens, attempts, text.strip()
        )

    def _free(self, requests: Sequence[tuple[str, str, Evidence]]) -> list[Explanation]:
        chats = [self.builder.explain(evidence.title, evidence_facts(evidence)) for _, _, evidence in requests]
        generations = self.backend.generate(chats, max_new_tokens=self.max_new_tokens)
        return [self._checked(r, g.text, g.completion_tokens) for r, g in zip(requests, generations, strict=True)]

    def retry_failed(
        self, requests: Sequence[tuple[str, str, Evidence]], results: Sequence[Explanation]
    ) -> list[Explanation]:
        """One more try for each failed phrasing, the model shown its answer and the check's reason."""
        failed = [n for n, r in enumerate(results) if not r.check_passed]
        chats = []
        for n in failed:
            evidence = requests[n][2]
            first = self.builder.explain(evidence.title, evidence_facts(evidence))
            chats.append(
                [
                    *first,
                    {"role": "assistant", "content": results[n].rejected or ""},
                    {"role": "user", "content": (
                        f"That sentence was rejected: it {results[n].check_failure}. Write it again, starting with "
                        f'"You might like {evidence.title} because", using only the evidence above.'
                    )},
                ]
            )  # fmt: skip
        retried = list(results)
        for n, generation in zip(failed, self.backend.generate(chats, max_new_tokens=self.max_new_tokens), strict=True):
            tokens = results[n].completion_tokens + generation.completion_tokens
            retried[n] = self._checked(requests[n], generation.text, tokens, attempts=2)
        return retried

    def _per_user(self, requests: Sequence[tuple[str, str, Evidence]]) -> list[Explanation]:
        """All of a user's items in one prompt, one numbered line each."""
        by_user: dict[str, list[int]] = {}
        for n, (user, _, _) in enumerate(requests):
            by_user.setdefault(user, []).append(n)
        groups = list(by_user.values())
        chats = [
            self.builder.explain_items([(requests[n][2].title, evidence_facts(requests[n][2])) for n in group])
            for group in groups
        ]
        budget = self.max_new_tokens * max((len(g) for g in groups), default=1)
        generations = self.backend.generate(chats, max_new_tokens=budget)
        results: list[Explanation | None] = [None] * len(requests)
        for group, generation in zip(groups, generations, strict=True):
            lines = {int(m["n"]): m["text"] for m in _NUMBERED_LINE.finditer(generation.text)}
            share = generation.completion_tokens // max(1, len(group))
            for position, n in enumerate(group, start=1):
                if position in lines:
                    results[n] = self._checked(requests[n], lines[position], share)
                else:
                    user, item, evidence = requests[n]
                    results[n] = Explanation(
                        user, item, template_explanation(evidence), "template", False,
                        f"no line {position} for this item in the answer", share, 1, "",
                    )  # fmt: skip
        return [r for r in results if r is not None]

    def _guided(self, requests: Sequence[tuple[str, str, Evidence]]) -> list[Explanation]:
        constraint = SlotConstraint if self.approach == "slots" else ExplanationConstraint
        prompt = self.builder.explain_claims if self.approach == "slots" else self.builder.explain
        chats = [prompt(display_title(e.title), evidence_claims(e)) for _, _, e in requests]
        constraints = [constraint(self.checker, e) for _, _, e in requests]
        generations = self.backend.generate_guided(chats, constraints, max_new_tokens=self.max_new_tokens)
        results = []
        for request, generation in zip(requests, generations, strict=True):
            result = self._checked(request, generation.text, generation.completion_tokens)
            if not generation.text:  # decoding found no sentence the check passes within the token limit
                reason = f"no passing sentence within {self.max_new_tokens} tokens"
                result = replace(result, check_failure=reason, rejected=generation.raw)
            results.append(result)
        return results
