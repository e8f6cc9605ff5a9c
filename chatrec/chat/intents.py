"""Turning a chat message into what it asks for: filters, preferences, seed items, feedback.

Rules, not the LLM, read the message: they are deterministic, testable and cannot be talked into
anything by the message itself. Whatever they do not recognise is kept as free text and matched to
item descriptions through embeddings (the cold-start path), so nothing the user says is dropped.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

GENRE_WORDS = {
    "action": "Action", "adventure": "Adventure", "adventures": "Adventure", "animation": "Animation",
    "animated": "Animation", "cartoon": "Animation", "cartoons": "Animation", "kids": "Children's",
    "children": "Children's", "children's": "Children's", "family": "Children's", "comedy": "Comedy",
    "comedies": "Comedy", "funny": "Comedy", "crime": "Crime", "documentary": "Documentary",
    "documentaries": "Documentary", "drama": "Drama", "dramas": "Drama", "fantasy": "Fantasy",
    "noir": "Film-Noir", "film-noir": "Film-Noir", "horror": "Horror", "scary": "Horror", "musical": "Musical",
    "musicals": "Musical", "mystery": "Mystery", "mysteries": "Mystery", "romance": "Romance",
    "romantic": "Romance", "romcom": "Romance", "sci-fi": "Sci-Fi", "scifi": "Sci-Fi",
    "science fiction": "Sci-Fi", "thriller": "Thriller", "thrillers": "Thriller", "war": "War",
    "western": "Western", "westerns": "Western",
}  # fmt: skip
LIGHT_GENRES = {"Comedy", "Children's", "Animation", "Musical", "Romance"}
DARK_GENRES = {"Horror", "Thriller", "Crime", "War", "Film-Noir"}

_NEGATION = (
    r"(?:no|not|without|avoid|skip|nothing|none of|hate|less|don'?t like|do not like|dislike|can'?t stand)"
    r"\s+(?:more\s+|any\s+|the\s+)?"
)
_GENRE_ALTERNATION = "|".join(sorted((re.escape(w) for w in GENRE_WORDS), key=len, reverse=True))
_EXCLUDE = re.compile(rf"\b{_NEGATION}({_GENRE_ALTERNATION})\b", re.IGNORECASE)
_GENRE = re.compile(rf"\b({_GENRE_ALTERNATION})\b", re.IGNORECASE)
_DECADE = re.compile(r"\b(?:from |in )?(?:the )?'?(?:(19|20)?(\d)0)'?s\b", re.IGNORECASE)
_NOT = r"(?P<not>\b(?:nothing|not|no|none|never)\s+(?:\w+\s+)?)?"  # "nothing before 1980" = from 1980 on
_BEFORE = re.compile(rf"{_NOT}\b(?:before|older than|prior to)\s+((?:19|20)\d\d)\b", re.IGNORECASE)
_AFTER = re.compile(rf"{_NOT}\b(?:after|since|newer than)\s+((?:19|20)\d\d)\b", re.IGNORECASE)
_LIGHTER = re.compile(
    r"\b(lighter|light-hearted|lighthearted|happier|feel-good|cheerful|uplifting|less (dark|serious|heavy))\b",
    re.IGNORECASE,
)
_DARKER = re.compile(r"\b(darker|grittier|more (serious|intense)|intense|disturbing)\b", re.IGNORECASE)
_SEED = re.compile(
    r"(?:\b(?:more|something|anything|others?|movies?|films?|stuff|ones?)\s+(?:just\s+)?like|\bsimilar to"
    r"|\bin the vein of|\balong the lines of)\s+(?P<title>[^,.!?;]+?)(?=\s+but\b|[,.!?;]|$)",
    re.IGNORECASE,
)
_LIKE = re.compile(r"\b(liked|loved|enjoyed|great pick|good one|like that one|love it|like it)\b", re.IGNORECASE)
_DISLIKE = re.compile(
    r"\b(not for me|didn'?t like|did not like|hated|disliked|boring|no thanks|not interested|meh)\b", re.IGNORECASE
)
_SEEN = re.compile(r"\b(seen it|already (seen|watched)|watched it)\b", re.IGNORECASE)
_RATE = re.compile(r"\b(?:rate|give|rating)\s+(?:it\s+)?(?:a\s+)?([1-5])(?:\s*(?:/|out of)\s*5)?\b", re.IGNORECASE)
_RESET = re.compile(r"\b(start over|reset|forget (it|that|everything))\b", re.IGNORECASE)
_REFERENCE = re.compile(
    r"\b(?:the\s+)?(first|second|third|fourth|fifth|last|#?[1-5](?:st|nd|rd|th)?)\s*(?:one|pick|movie|film)?\b",
    re.IGNORECASE,
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
_FILLER = re.compile(
    r"\b(i|i'?d|i'?m|me|my|a|an|the|some|something|anything|movie|movies|film|films|want|would|like|please|"
    r"show|give|recommend|looking|for|with|and|or|but|to|watch|maybe|more|less|in|of|from|it|that|one|tonight)\b",
    re.IGNORECASE,
)


def normalise_title(title: str) -> str:
    bare = re.sub(r"\s*\(\d{4}\)\s*$", "", title).strip()
    match = re.match(r"^(.+), (The|A|An)$", bare)
    if match:
        bare = f"{match[2]} {match[1]}"
    return re.sub(r"[^a-z0-9 ]", "", bare.casefold()).strip()


class TitleIndex:
    """Finds catalogue items from how people type titles ("fargo", "the usual suspects", "star wars")."""

    def __init__(self, titles: dict[str, str]) -> None:
        self.by_name: dict[str, list[str]] = {}
        for item_id, title in titles.items():
            for name in {normalise_title(title), re.sub(r"^(the|a|an) ", "", normalise_title(title))}:
                self.by_name.setdefault(name, []).append(item_id)

    def find(self, text: str) -> str | None:
        name = normalise_title(text)
        name = re.sub(r"^(the|a|an) ", "", name) if name not in self.by_name else name
        if name in self.by_name:
            return sorted(self.by_name[name], key=int_or_str)[0]
        close = difflib.get_close_matches(name, self.by_name, n=1, cutoff=0.8)
        return sorted(self.by_name[close[0]], key=int_or_str)[0] if close else None

    def mentioned(self, text: str) -> list[str]:
        """Items whose full title appears in the text (longest names first, 5+ characters)."""
        lowered = " " + re.sub(r"[^a-z0-9 ]", " ", text.casefold()) + " "
        lowered = re.sub(r"\s+", " ", lowered)
        found = []
        for name in sorted(self.by_name, key=len, reverse=True):
            if len(name) >= 5 and f" {name} " in lowered:
                found.append(sorted(self.by_name[name], key=int_or_str)[0])
                lowered = lowered.replace(f" {name} ", " ")
        return found


def int_or_str(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


@dataclass
class Intent:
    exclude_genres: set[str] = field(default_factory=set)
    prefer_genres: set[str] = field(default_factory=set)
    year_range: tuple[int | None, int | None] | None = None
    mood: int = 0  # +1 lighter, -1 darker
    seeds: list[str] = field(default_factory=list)
    unknown_seeds: list[str] = field(default_factory=list)
    feedback: str | None = None  # like | dislike | view | rating
    rating: int | None = None
    feedback_items: list[str] = field(default_factory=list)
    reference: int | None = None  # index into the last shown list ("the second one")
    reset: bool = False
    free_text: str = ""

    def describe(self, titles: dict[str, str]) -> list[str]:
        out = []
        if self.reset:
            out.append("starting over")
        if self.exclude_genres:
            out.append(f"no {', '.join(sorted(self.exclude_genres)).lower()}")
        if self.prefer_genres:
            out.append(f"more {', '.join(sorted(self.prefer_genres)).lower()}")
        if self.year_range:
            lo, hi = self.year_range
            out.append(f"released {lo or '…'}-{hi or '…'}")
        if self.mood:
            out.append("lighter" if self.mood > 0 else "darker")
        out += [f"like {titles[s]}" for s in self.seeds]
        out += [f"no title matches '{s}'" for s in self.unknown_seeds]
        if self.feedback:
            out.append(f"{self.feedback} feedback" + (f" ({self.rating}/5)" if self.rating else ""))
        if self.free_text:
            out.append(f"about '{self.free_text}'")
        return out


def parse(message: str, titles: TitleIndex) -> Intent:
    intent = Intent()
    text = message.strip()
    intent.reset = bool(_RESET.search(text))
    for match in _SEED.finditer(text):
        item = titles.find(match["title"])
        if item is None:
            intent.unknown_seeds.append(match["title"].strip())
        else:
            intent.seeds.append(item)
    remainder = _SEED.sub(" ", text)
    for match in _EXCLUDE.finditer(remainder):
        intent.exclude_genres.add(GENRE_WORDS[match[1].casefold()])
    for match in _GENRE.finditer(_EXCLUDE.sub(" ", remainder)):
        intent.prefer_genres.add(GENRE_WORDS[match[1].casefold()])
    intent.prefer_genres -= intent.exclude_genres
    decade = _DECADE.search(text)
    if decade:
        century = decade[1] or ("20" if decade[2] in "012" else "19")
        start = int(f"{century}{decade[2]}0")
        intent.year_range = (start, start + 9)
    lo: int | None = None
    hi: int | None = None
    for match in _BEFORE.finditer(text):
        if match["not"]:
            lo = int(match[2])
        else:
            hi = int(match[2]) - 1
    for match in _AFTER.finditer(text):
        if match["not"]:
            hi = int(match[2])
        else:
            lo = int(match[2]) + 1
    if lo is not None or hi is not None:
        intent.year_range = (lo, hi)
    if _LIGHTER.search(text):
        intent.mood = 1
    elif _DARKER.search(text):
        intent.mood = -1
    rate = _RATE.search(text)
    if rate:
        intent.feedback, intent.rating = "rating", int(rate[1])
    elif _SEEN.search(text):
        intent.feedback = "view"
    elif _DISLIKE.search(text):
        intent.feedback = "dislike"
    elif _LIKE.search(text) and not intent.seeds:
        intent.feedback = "like"
    if intent.feedback:
        intent.feedback_items = titles.mentioned(text)
        reference = _REFERENCE.search(text)
        if reference:
            word = reference[1].casefold().lstrip("#")
            intent.reference = _ORDINALS.get(word, int(word[0]) - 1 if word[0].isdigit() else 0)
    # what no rule consumed is a free-text request ("a heist with a twist"), matched by embeddings;
    # a leftover made only of genre words adds nothing the genre preference does not already say
    leftover = text
    for rule in (_SEED, _EXCLUDE, _DECADE, _BEFORE, _AFTER, _LIGHTER, _DARKER, _RATE, _SEEN, _DISLIKE, _LIKE, _RESET):
        leftover = rule.sub(" ", leftover)
    if intent.feedback:
        leftover = _REFERENCE.sub(" ", leftover)
    leftover = re.sub(r"\s+", " ", _FILLER.sub(" ", re.sub(r"[^\w\s'-]", " ", leftover))).strip()
    if len(leftover) >= 3 and not all(word.casefold() in GENRE_WORDS for word in leftover.split()):
        intent.free_text = leftover
    return intent
