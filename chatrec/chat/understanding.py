"""What a chat turn asks for, as a typed intent: filled by the LLM (constrained choices) or the rules.

A turn is one of: refine the filters, point at a shown item, "more like X", "why X", feedback on an
item (like / dislike / seen / rating), a new request in words, start over, or something off-topic.
The item a turn is about is resolved against the last shown list: ordinals ("the second one", "#3",
"the last one"), pronouns ("that one", "it": the item the conversation is on, else the first shown)
and titles, typed loosely ("Fargo", "the usuall suspects"), shown titles first, then the catalogue.

The rules (`understand_rules`) are deterministic and know when they recognised something. The LLM
(`LLMUnderstander`) never writes free text here: it picks the intent among fixed labels and the item
among the shown positions with `option_logprobs`, so its answer is always one of the allowed values;
an answer that still does not hold together (a "why" with nothing to point at) fails validation and
the rules decide. The filter slots (genres, years, mood, the words of a request) are always read by
the rules (`chatrec.chat.intents.parse`): they are exact, and a message cannot talk them into more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from chatrec.chat.intents import _SEED, GENRE_WORDS, Intent, TitleIndex, normalise_title, parse
from chatrec.llm.backends.base import LLMBackend

Kind = Literal["refine", "reference", "more_like", "why", "feedback", "new_request", "off_topic", "reset"]
FeedbackKind = Literal["like", "dislike", "seen", "rating"]
KINDS: tuple[Kind, ...] = ("refine", "reference", "more_like", "why", "feedback", "new_request", "off_topic", "reset")
NEEDS_TARGET = {"reference", "more_like", "why", "feedback"}
HYBRID_MIN_CONFIDENCE = 0.5  # hybrid: the LLM's intent replaces the rules' unsure one only this sure


class TurnIntent(BaseModel):
    """One turn, understood. `target` is an item id of the catalogue (resolved, never free text)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Kind
    target: str | None = None
    target_by: Literal["position", "title", "pronoun"] | None = None
    feedback: FeedbackKind | None = None
    rating: int | None = Field(None, ge=1, le=5)
    slots: Intent = Field(default_factory=Intent)  # filters and request words, read by the rules
    parsed_by: Literal["rules", "llm"] = "rules"
    confident: bool = True  # the rules recognised the turn (False: their default reading)
    unknown_title: str | None = None  # "more like Citizen Kane" when no item has that title

    def problem(self, catalogue: set[str]) -> str | None:
        """Why this intent cannot be acted on as it is (None: it can)."""
        if self.target is not None and self.target not in catalogue:
            return f"target {self.target!r} is not in the catalogue"
        if self.kind in NEEDS_TARGET and self.target is None:
            return f"a '{self.kind}' turn needs an item and none could be resolved"
        if self.kind == "feedback" and self.feedback is None:
            return "a feedback turn needs like, dislike, seen or rating"
        return None


# --- typing mistakes ----------------------------------------------------------------------------
KEYWORDS = {
    "why", "how", "come", "explain", "reason", "more", "like", "liked", "similar", "first", "second", "third",
    "fourth", "fifth", "last", "seen", "watched", "already", "loved", "hated", "disliked", "boring", "interested",
    "thanks", "that", "this", "one", "something", "lighter", "darker", "start", "over", "reset", "movie",
    "movies", "film", "films", "recommend", "recommended", "picked", "chose", "about", "without", "please",
    "instead", "didn't", "enjoyed",
} | {w for w in GENRE_WORDS if " " not in w}  # fmt: skip
# ordinary words a typo fix must leave alone (they are one edit away from a keyword)
COMMON = {
    "hate", "love", "lover", "likes", "mare", "mode", "mors", "tore", "core", "lore", "bore", "note", "mote",
    "whe", "who", "whom", "what", "when", "where", "which", "while", "white", "with", "wish", "this", "thin",
    "than", "then", "them", "they", "there", "these", "those", "thus", "sees", "seed", "send", "seem", "seems",
    "sewn", "lost", "list", "fast", "past", "last", "least", "lest", "like", "lime", "line", "life", "mike",
    "fist", "firs", "film", "firm", "form", "fore", "four", "fourth", "five", "fifth", "more", "move", "moved",
    "none", "done", "gone", "bone", "tone", "once", "ones", "only", "over", "ever", "even", "aver", "oven",
    "star", "stars", "start", "stare", "scare", "scared", "dark", "darkest", "light", "lights", "night",
    "fight", "right", "sight", "might", "tight", "about", "above", "abort", "reset", "resets", "watch",
    "watches", "match", "batch", "catch", "warm", "ward", "wars", "wear", "year", "near", "dear", "fear",
    "hear", "heat", "beat", "feat", "meat", "seat", "neat", "drama", "dream", "dreams", "crime", "prime",
    "grime", "comic", "comics", "cosmic", "action", "fiction", "auction", "kids", "kid", "kind", "kinds",
    "funny", "sunny", "bunny", "films", "filmy", "movie", "movies", "horror", "mirror", "terror", "error",
    "western", "eastern", "northern", "southern", "mystery", "history", "musical", "physical", "family",
    "famine", "music", "magic", "drive", "alive", "truth", "youth", "bored", "board", "liked", "lined",
    "liken", "loved", "lived", "loves", "hated", "dated", "rated", "mated", "seen", "teen", "queen",
    "green", "keen", "whey", "thank", "thanks", "think", "thing", "things", "pick", "picks", "picked",
    "stick", "tick", "trick", "sick", "click", "quick", "chose", "close", "chase", "choose",
}  # fmt: skip


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, stopping early past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def correct_typos(text: str, protected: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """Words one edit away from a keyword (two for long words) become that keyword ("mroe" -> "more",
    "secnd" -> "second", "romanse" -> "romance"); short words, known words and `protected` words
    (words of the titles on screen) stay as typed."""

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        low = word.casefold()
        if len(low) < 4 or low in KEYWORDS or low in COMMON or low in protected:
            return word
        allowed = 1 if len(low) < 7 else 2
        best = min(KEYWORDS, key=lambda k: (edit_distance(low, k), k))
        return best if edit_distance(low, best) <= allowed else word

    return re.sub(r"[A-Za-z']+", fix, text)


# --- references to items ------------------------------------------------------------------------
_ORDINAL = re.compile(
    r"\b(?:the\s+)?(?P<word>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)\b(?:\s+(?:one|pick|movie|film))?"
    r"|(?:#|\bnumber\s+|\bno\.?\s*)(?P<digit>[1-9])\b",
    re.IGNORECASE,
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1,
             "1st": 0, "2nd": 1, "3rd": 2, "4th": 3, "5th": 4}  # fmt: skip
_PRONOUN = re.compile(r"\b(that one|this one|that movie|this movie|that film|this film|it|that|this|them)\b", re.I)

# --- what kind of turn ------------------------------------------------------------------------
_WHY = re.compile(
    r"\b(why|how come|what makes|explain|what'?s the reason|reason for|tell me (more )?about|what is .+ about)\b", re.I
)
_MORE_LIKE = _SEED  # "more like X", "similar to X", "in the vein of X": X in the group `title`
_RATE = re.compile(r"\b(?:rate|give|rating)\b[^.!?#]{0,30}?(?<![#\w])([1-5])(?:\s*(?:/\s*5|out of 5|stars?))?\b", re.I)
_SEEN = re.compile(
    r"\b(seen (it|that|this|them)|(already|have|'ve|i|we) (seen|watched|saw)|watched (it|that|this)|saw (it|that|this))\b",
    re.I,
)
_DISLIKE = re.compile(
    r"\b(not for me|didn'?t like|did not like|don'?t like|do not like|hated?|disliked?|boring|no thanks|"
    r"not interested|meh|awful|terrible|not my thing|not my taste)\b",
    re.I,
)
_LIKE = re.compile(
    r"\b(liked|loved|enjoyed|great pick|good one|love (it|that|this)|like (it|that|this)|nice one|sounds good)\b", re.I
)
_RESET = re.compile(r"\b(start over|reset|forget (it|that|everything)|from scratch)\b", re.I)
_HOSTILE = re.compile(
    r"\b(ignore (all|any|the|previous|prior|your)|instructions?|system prompt|jailbreak|password|api key|"
    r"print|dump|reveal|other users?|user \d+'?s?|as json|sql|drop table|delete)\b",
    re.I,
)
_OFF_TOPIC = re.compile(
    r"\b(weather|joke|who are you|what are you|hello|hi|hey|thanks|thank you|what time|news|stock|recipe|"
    r"capital of|how old|meaning of life|translate|poem|homework|football|president)\b",
    re.I,
)


@dataclass(frozen=True)
class Shown:
    """The last shown list as the understanding needs it."""

    items: list[str]
    titles: list[str]
    focus: str | None = None  # the item the conversation is on (last referenced), if any


def _title_in(text: str, titles: Sequence[str]) -> int | None:
    """Index of the shown title the text names (normalised, whole words; close spellings of long titles)."""
    lowered = " " + re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", " ", text.casefold())) + " "
    best: tuple[int, int] | None = None
    for n, title in enumerate(titles):
        name = normalise_title(title)
        bare = re.sub(r"^(the|a|an) ", "", name)
        for form in (name, bare):
            if len(form) >= 3 and f" {form} " in lowered and (best is None or len(form) > best[1]):
                best = (n, len(form))
    if best is not None:
        return best[0]
    words = lowered.split()
    for n, title in enumerate(titles):  # a typed-loosely title: the same number of words, each close
        bare = re.sub(r"^(the|a|an) ", "", normalise_title(title)).split()
        if not bare or sum(len(w) for w in bare) < 5:
            continue
        for start in range(len(words) - len(bare) + 1):
            window = words[start : start + len(bare)]
            if all(edit_distance(w, t) <= (1 if len(t) < 7 else 2) for w, t in zip(window, bare, strict=True)):
                return n
    return None


def resolve(text: str, shown: Shown, catalogue: TitleIndex) -> tuple[str | None, str | None, str | None]:
    """(item id, how: position|title|pronoun, unresolved title words) for the item `text` points at."""
    ordinal = _ORDINAL.search(text)
    if ordinal and shown.items:
        index = _ORDINALS[ordinal["word"].casefold()] if ordinal["word"] else int(ordinal["digit"]) - 1
        if -len(shown.items) <= index < len(shown.items):
            return shown.items[index], "position", None
    on_screen = _title_in(text, shown.titles)
    if on_screen is not None:
        return shown.items[on_screen], "title", None
    mentioned = catalogue.mentioned(text)
    if mentioned:
        return mentioned[0], "title", None
    if _PRONOUN.search(text) and shown.items:
        return shown.focus or shown.items[0], "pronoun", None
    return None, None, None


_ASKING = re.compile(
    r"\b(did|do|does|you|u|pick|picked|choose|chose|recommend|recommended|show|showed|suggest|"
    r"suggested|is|was|there|on|the|list|me|for|i|would|like|please)\b",
    re.I,
)


def _strip_words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,.!?;:'\"")


def understand_rules(message: str, shown: Shown, catalogue: TitleIndex) -> TurnIntent:
    """The rules' reading of a turn (deterministic; `confident` False when nothing specific matched)."""
    protected = {w for t in shown.titles for w in normalise_title(t).split()}
    text = correct_typos(message.strip(), protected)
    rate = _RATE.search(text)
    without_rating = f"{text[: rate.start(1)]} {text[rate.end(1) :]}" if rate else text
    slots = parse(without_rating, catalogue)
    # items and feedback are this module's to read; the slots keep filters and request words only
    slots = replace(slots, seeds=[], unknown_seeds=[], feedback=None, rating=None, feedback_items=[], reference=None)
    if _RESET.search(text):
        return TurnIntent(kind="reset", slots=slots)
    hostile = bool(_HOSTILE.search(text))
    if hostile:  # an instruction to the system: only its plain filters count, never its words or titles
        slots.free_text, slots.seeds, slots.unknown_seeds = "", [], []
        slots.feedback, slots.feedback_items = None, []
        has_filters = bool(slots.exclude_genres or slots.prefer_genres or slots.year_range or slots.mood)
        return TurnIntent(kind="refine" if has_filters else "off_topic", slots=slots)
    if _WHY.search(text):
        rest = _WHY.sub(" ", text)
        target, how, _ = resolve(rest, shown, catalogue)
        if target is None:
            named = catalogue.find(_strip_words(_ASKING.sub(" ", rest)))
            target, how = (named, "title") if named else (None, None)
        if target is None and shown.items:
            target, how = shown.focus or shown.items[0], "pronoun"
        return TurnIntent(kind="why", target=target, target_by=how, slots=Intent())
    more = _MORE_LIKE.search(without_rating)
    if more and not _DISLIKE.search(text[: more.start()]):
        what = _strip_words(more["title"])
        target, how, _ = resolve(what, shown, catalogue)
        if target is None:
            found = catalogue.find(what)
            target, how = (found, "title") if found else (None, None)
        rest = replace(slots, seeds=[], unknown_seeds=[], feedback=None, feedback_items=[], free_text="")
        if target is not None or not _LIKE.search(text):
            return TurnIntent(kind="more_like", target=target, target_by=how, slots=rest,
                              unknown_title=None if target else what)  # fmt: skip
    feedback: FeedbackKind | None = None
    rating: int | None = None
    if rate:
        feedback, rating = "rating", int(rate[1])
    elif _SEEN.search(text):
        feedback = "seen"
    elif _DISLIKE.search(text):
        feedback = "dislike"
    elif _LIKE.search(text):
        feedback = "like"
    has_filters = bool(slots.exclude_genres or slots.prefer_genres or slots.year_range or slots.mood)
    if feedback is not None:
        target, how, _ = resolve(without_rating, shown, catalogue)
        if target is None and has_filters:  # "I hate horror": about a genre, not an item
            return TurnIntent(kind="refine", slots=slots)
        if target is None and shown.items:
            target, how = shown.focus or shown.items[0], "pronoun"
        return TurnIntent(kind="feedback", feedback=feedback, rating=rating, target=target, target_by=how,
                          slots=Intent())  # fmt: skip
    if not has_filters and (_ORDINAL.search(text) or _title_in(text, shown.titles) is not None) and shown.items:
        target, how, _ = resolve(text, shown, catalogue)
        if target is not None:
            return TurnIntent(kind="reference", target=target, target_by=how, slots=Intent())
    if _OFF_TOPIC.search(text) and not has_filters:
        return TurnIntent(kind="off_topic", slots=Intent())
    if slots.free_text:
        # a request in words (with any filters it names): confident only when it says something about films
        return TurnIntent(kind="new_request", slots=slots, confident=has_filters or _about_films(text))
    if has_filters:
        return TurnIntent(kind="refine", slots=slots)
    return TurnIntent(kind="off_topic", slots=Intent(), confident=False)


_FILM_WORDS = re.compile(
    r"\b(movie|movies|film|films|watch|story|stories|about|with|starring|plot|ending|twist|hero|villain|"
    r"love|war|space|crime|heist|robot|alien|aliens|family|kids|friends|girl|boy|man|woman|dog|cat|world|"
    r"city|town|school|night|murder|mystery|adventure|journey|revenge|music|dance)\b",
    re.I,
)


def _about_films(text: str) -> bool:
    return bool(_FILM_WORDS.search(text)) or bool(re.search(r"\b(something|anything|a|an)\b", text, re.I))


# --- the LLM reading --------------------------------------------------------------------------
LLM_LABELS = ("A", "B", "C", "D", "E", "F", "G")
LLM_KINDS: dict[str, Kind] = {"A": "refine", "B": "reference", "C": "more_like", "D": "why", "E": "feedback",
                              "F": "new_request", "G": "off_topic"}  # fmt: skip
_KIND_PROMPT = """Movies just shown to the user:
{shown}

The user's message: "{message}"

What does the message ask for?
A. change the filters: a genre, a decade, lighter or darker
B. point at one of the shown movies
C. more movies similar to one movie
D. why a movie was recommended
E. feedback on a movie: liked it, disliked it, or already seen it
F. a new request described in words
G. something that is not about movies
Answer with one letter."""
_ITEM_PROMPT = """Movies just shown to the user:
{shown}

The user's message: "{message}"

Which shown movie is the message about? Answer with its number, or 0 if it names none of them."""
_FEEDBACK_PROMPT = """The user's message about a movie: "{message}"

A. they liked it
B. they did not like it
C. they have already seen it
Answer with one letter."""
FEEDBACK_LABELS: dict[str, FeedbackKind] = {"A": "like", "B": "dislike", "C": "seen"}


def _numbered(shown: Shown) -> str:
    return "\n".join(f"{n}. {title}" for n, title in enumerate(shown.titles, start=1)) or "(nothing yet)"


def _chat(content: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You read messages in a movie recommendation chat. Answer only as asked."},
        {"role": "user", "content": content},
    ]


class LLMUnderstander:
    """The LLM's reading of a turn through constrained choices (`option_logprobs`): the intent among
    fixed letters, the item among the shown positions (0 = none), the feedback among three letters."""

    def __init__(self, backend: LLMBackend, *, max_message_chars: int = 400, calibrate: bool = True) -> None:
        self.backend = backend
        self.max_message_chars = max_message_chars
        # contextual calibration (Zhao et al., 2021): a small model prefers some letters whatever the
        # message says; its preference for a content-free message is subtracted from every answer
        self.calibrate = calibrate
        self._priors: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self.confidence = 0.0  # the probability of the last intent chosen (after calibration)
        self.calls = 0  # turns read

    def _pick(self, template: str, fields: dict[str, str], options: Sequence[str]) -> tuple[str, float]:
        scores = self.backend.option_logprobs([_chat(template.format(**fields))], [list(options)])[0]
        if self.calibrate:
            key = (template.format(**{**fields, "message": ""}), tuple(options))
            if key not in self._priors:
                self._priors[key] = self.backend.option_logprobs([_chat(key[0])], [list(options)])[0]
            scores = scores - self._priors[key]
            scores = scores - np.logaddexp.reduce(scores)
        best = int(np.argmax(scores))
        return options[best], float(np.exp(scores[best]))

    def understand(self, message: str, shown: Shown, catalogue: TitleIndex) -> TurnIntent:
        self.calls += 1
        text = message.strip()[: self.max_message_chars].replace('"', "'")
        letter, self.confidence = self._pick(_KIND_PROMPT, {"shown": _numbered(shown), "message": text}, LLM_LABELS)
        kind = LLM_KINDS[letter]
        rules = understand_rules(message, shown, catalogue)  # the filter slots and typed titles
        intent = TurnIntent(kind=kind, slots=rules.slots if kind in ("refine", "new_request") else Intent(),
                            parsed_by="llm")  # fmt: skip
        if kind in NEEDS_TARGET:
            named = catalogue.mentioned(text)
            position = 0
            if shown.items:
                digits = [str(n) for n in range(len(shown.items) + 1)]
                answer, _ = self._pick(_ITEM_PROMPT, {"shown": _numbered(shown), "message": text}, digits)
                position = int(answer)
            if position > 0:
                intent.target, intent.target_by = shown.items[position - 1], "position"
            elif named:
                intent.target, intent.target_by = named[0], "title"
            if kind == "more_like":
                intent.slots = replace(rules.slots, seeds=[], unknown_seeds=[], free_text="")
        if kind == "feedback":
            rate = _RATE.search(text)
            if rate:
                intent.feedback, intent.rating = "rating", int(rate[1])
            else:
                answer, _ = self._pick(_FEEDBACK_PROMPT, {"message": text}, tuple(FEEDBACK_LABELS))
                intent.feedback = FEEDBACK_LABELS[answer]
        return intent


def understand(
    message: str,
    shown: Shown,
    catalogue: TitleIndex,
    catalogue_ids: set[str],
    llm: LLMUnderstander | None,
    mode: Literal["hybrid", "llm", "rules"],
) -> TurnIntent:
    """The turn's intent: by the rules, the LLM, or both (see `settings.chat_understanding`)."""
    rules = understand_rules(message, shown, catalogue)
    if llm is None or mode == "rules":
        return rules
    if mode == "hybrid" and rules.confident:
        return rules
    try:
        reading = llm.understand(message, shown, catalogue)
    except Exception:  # a backend failure must not end the conversation: the rules answer
        return rules
    if reading.problem(catalogue_ids) is not None:
        return rules
    if mode == "hybrid" and llm.confidence < HYBRID_MIN_CONFIDENCE:
        return rules  # an unsure LLM does not overrule the rules' default reading
    if _HOSTILE.search(message) and reading.kind not in ("off_topic", "refine"):
        return rules  # an instruction to the system is never acted on as anything else
    return reading
