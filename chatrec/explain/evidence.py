"""Evidence the system computes for a (user, item) recommendation, and a template sentence from it.

The evidence is what an explanation may claim: the user's liked history items most similar to the
item (item-item cosine over who interacted with what), how many users liked both, and the genres the
item shares with the user's favourites. The template sentence states only that evidence, so it is the
grounded fallback for any LLM phrasing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from chatrec.data.frames import UserEvents, user_events_of

LIKED_RATING = 4.0
MAX_CACHED_ROWS = 20_000  # similarity rows kept per run (float32: 60K items -> 240 KB each)
# `prepare` computes the rows of many items with one sparse x dense product, which costs a pass over
# every interaction per item, instead of one sparse product per item, which costs the interactions of
# the item's users: worth it for an item whose users made more than this share of all interactions
# (a probe at 5M: ~0.28 ns per interaction per item in batches of 32 vs ~3 ns per interaction of the
# item's users; the 600 items of a batch run's first 4,000 users took 4.7 s one by one)
DENSE_ROWS_COST_SHARE = 0.1
DENSE_ROWS_PER_PRODUCT = 32  # items per product: 32 columns of users stay in cache (64+ were slower)


@dataclass
class Evidence:
    item_id: str
    title: str
    # item_id, title, rating, similarity, co_likers: the number of people who liked both this history
    # item and the recommended one (each person once, however many times they rated either)
    similar_history: list[dict[str, Any]] = field(default_factory=list)
    shared_genres: list[str] = field(default_factory=list)
    favourite_genre_share: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class EvidenceIndex:
    """Item-item co-occurrence and co-likes over the training interactions, built once per run.

    Sparse throughout: an items x items similarity would be 28 GB at 60K items. Rows of it are
    computed on demand (one sparse product per target item) and cached, so a batch run pays once
    per distinct recommended item. Implicit data (no ratings) counts every interaction as liked.
    """

    def __init__(self, interactions: pl.DataFrame, items: pl.DataFrame) -> None:
        """The index of the interactions in `interactions` (user_id, item_id, rating, in time order)
        over the catalogue `items`; `of_user_events` builds the same from the warehouse's numbering."""
        self._build(user_events_of(interactions, items))

    @classmethod
    def of_user_events(cls, events: UserEvents) -> EvidenceIndex:
        """The index of `events` (`chatrec.data.frames.user_events`: the warehouse numbered its users
        and items and ordered the rows; at 5M interactions the query and this build took 1.3-1.7 s
        where the frame and the build from it took 2.0-2.2 s, probe)."""
        index = cls.__new__(cls)
        index._build(events)
        return index

    def _build(self, events: UserEvents) -> None:
        self._set_items(events.items)
        users, rows, cols = events.user_ids, events.user_pos, events.item_pos
        self.rated = len(events.rating) > 0 and events.rating.null_count() < len(events.rating)
        in_catalogue = cols < len(self.item_ids)
        liked_rows = events.rating.fill_null(LIKED_RATING).to_numpy() >= LIKED_RATING
        self._seen = _user_item_matrix(rows, cols, in_catalogue, (len(users), len(self.item_ids)))
        self._liked = _user_item_matrix(rows, cols, in_catalogue & liked_rows, self._seen.shape)
        self._seen_csc, self._liked_csc = self._seen.tocsc(), self._liked.tocsc()
        self._norms = np.sqrt(np.asarray(self._seen.sum(axis=0)).ravel())
        # each user's liked items in time order, as one column of item positions (catalogue, then the
        # items it lacks: `_history_item_ids`) and a span per user: a dict of per-user Python lists
        # cost ~4.5 s at 5M interactions and a copy per Dask worker
        counts = np.bincount(rows[liked_rows], minlength=len(users))
        ends = np.cumsum(counts)
        present = np.flatnonzero(counts)
        self._liked_spans = _spans([users[p] for p in present.tolist()], (ends - counts)[present], ends[present])
        self._liked_items = cols[liked_rows]
        self._liked_ratings = events.rating.filter(pl.Series(liked_rows))
        self._history_item_ids = events.item_ids
        self._start_caches()

    def _set_items(self, items: pl.DataFrame) -> None:
        self._items = items.select("item_id", "title", "genres")
        self.item_ids = items["item_id"].to_list()
        self.position = {item: n for n, item in enumerate(self.item_ids)}
        self.titles = dict(zip(items["item_id"], items["title"], strict=True))
        self.genres = {
            row["item_id"]: list(row["genres"] or []) for row in items.select("item_id", "genres").iter_rows(named=True)
        }

    def _start_caches(self) -> None:
        self._similarity_rows: dict[int, np.ndarray] = {}
        self._co_like_rows: dict[int, np.ndarray] = {}
        self._row_costs: dict[str, np.ndarray] = {}  # "seen" / "liked": see `_costly`
        self._mapped_files: set[str] = set()  # the rows files of `save_rows` mapped (`map_rows`)
        self._last_liked: tuple[str | None, list[tuple[str, float | None]]] = (None, [])
        self._last_taste: _Taste | None = None

    # the index's arrays as `save` writes them: each sparse matrix's three arrays, one .npy file each
    _MATRICES = ("seen", "seen_csc", "liked", "liked_csc")
    _MATRIX_PARTS = ("data", "indices", "indptr")

    def save(self, folder: Path) -> None:
        """This index's arrays in `folder`, for `load` in other processes (Dask workers).

        Each worker building the index again cost it ~1.6-2.2 s at 5M interactions (bench.dask_timeline),
        the same work in every worker; `load` maps the files instead (the workers of one machine share
        their pages). The popular items' rows are not here: `save_rows` computes them, in shares."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in self._MATRICES:
            matrix = getattr(self, f"_{name}")
            for part in self._MATRIX_PARTS:
                np.save(folder / f"{name}.{part}.npy", getattr(matrix, part))
        np.save(folder / "norms.npy", self._norms)
        for name in ("seen", "liked"):
            np.save(folder / f"{name}.costs.npy", self._row_cost(name))  # no worker computes them again
        self._items.write_ipc(folder / "items.arrow", compression="uncompressed")
        np.save(folder / "liked.items.npy", self._liked_items)
        pl.DataFrame([self._liked_ratings.alias("rating")]).write_ipc(
            folder / "liked.arrow", compression="uncompressed"
        )
        pl.DataFrame({"item_id": self._history_item_ids[len(self.item_ids) :]}, schema={"item_id": pl.Utf8}).write_ipc(
            folder / "outside_items.arrow", compression="uncompressed"
        )
        spans = np.array(list(self._liked_spans.values()), dtype=np.int64).reshape(-1, 2)
        pl.DataFrame(
            {"user_id": list(self._liked_spans), "start": spans[:, 0], "end": spans[:, 1]},
            schema={"user_id": pl.Utf8, "start": pl.Int64, "end": pl.Int64},
        ).write_ipc(folder / "spans.arrow", compression="uncompressed")
        (folder / "index.json").write_text(json.dumps({"rated": self.rated, "shape": list(self._seen.shape)}))

    def save_rows(self, folder: Path, share: int = 0, shares: int = 1) -> None:
        """The similarity and co-like rows of share `share` of `shares` of every costly item
        (DENSE_ROWS_COST_SHARE: the popular ones, whose rows nearly every batch run needs) computed and
        saved in `folder` beside `save`'s arrays, for `map_rows` in every process.

        Each Dask worker computed all of them again, ~1.8 s at 5M interactions; now each computes its
        share, once (`rows_on_worker`). Rows go straight to a memory-mapped file, not through this
        process's memory (at most MAX_CACHED_ROWS of each kind in all, items x 4 bytes each), under a
        hidden name first: `map_rows` sees a share whole or not at all."""
        for name in ("seen", "liked"):
            costly = self._costly(name, list(range(len(self.item_ids))))[:MAX_CACHED_ROWS]
            # whole products per share (each costs a pass over every interaction, whatever its items)
            products = [
                costly[at : at + DENSE_ROWS_PER_PRODUCT] for at in range(0, len(costly), DENSE_ROWS_PER_PRODUCT)
            ]
            targets = [target for product in products[share::shares] for target in product]
            if not targets:
                continue
            np.save(folder / f"{name}.targets.{share}.npy", np.array(targets, dtype=np.int64))
            partial = folder / f".{name}.rows.{share}.npy"
            rows = np.lib.format.open_memmap(
                partial, mode="w+", dtype=np.float32, shape=(len(targets), len(self.item_ids))
            )
            for at, (_, row) in enumerate(self._batched_rows(name, targets)):
                rows[at] = row
            rows.flush()
            del rows
            partial.rename(folder / f"{name}.rows.{share}.npy")
        self.map_rows(folder)

    def map_rows(self, folder: Path) -> None:
        """Map the rows `save_rows` saved in `folder` that this index does not hold yet (read-only)."""
        for name, cache in (("seen", self._similarity_rows), ("liked", self._co_like_rows)):
            for path in sorted(folder.glob(f"{name}.rows.*.npy")):
                if path.name in self._mapped_files:
                    continue
                share = path.name.removeprefix(f"{name}.rows.").removesuffix(".npy")
                targets = np.load(folder / f"{name}.targets.{share}.npy").tolist()
                for target, row in zip(targets, _mapped(path), strict=True):
                    if len(cache) < MAX_CACHED_ROWS:
                        cache.setdefault(target, row)
                self._mapped_files.add(path.name)

    @classmethod
    def load(cls, folder: Path) -> EvidenceIndex:
        """The index `save` wrote in `folder`, its arrays memory-mapped (read-only, not copied), with the
        rows `save_rows` saved there so far."""
        meta = json.loads((folder / "index.json").read_text())
        index = cls.__new__(cls)
        index._set_items(pl.read_ipc(folder / "items.arrow"))
        index.rated = bool(meta["rated"])
        shape = tuple(meta["shape"])
        for name in cls._MATRICES:
            kind = sp.csc_matrix if name.endswith("_csc") else sp.csr_matrix
            data, indices, indptr = (_mapped(folder / f"{name}.{part}.npy") for part in cls._MATRIX_PARTS)
            setattr(index, f"_{name}", kind((data, indices, indptr), shape=shape))
        index._norms = np.load(folder / "norms.npy")
        index._liked_items = _mapped(folder / "liked.items.npy")
        index._liked_ratings = pl.read_ipc(folder / "liked.arrow")["rating"]
        index._history_item_ids = index.item_ids + pl.read_ipc(folder / "outside_items.arrow")["item_id"].to_list()
        spans = pl.read_ipc(folder / "spans.arrow")
        index._liked_spans = _spans(spans["user_id"].to_list(), spans["start"].to_numpy(), spans["end"].to_numpy())
        index._start_caches()
        for name in ("seen", "liked"):
            index._row_costs[name] = np.load(folder / f"{name}.costs.npy")
        index.map_rows(folder)
        return index

    @property
    def liked_users(self) -> list[str]:
        """Users with at least one liked item, sorted."""
        return list(self._liked_spans)

    def liked(self, user_id: str) -> list[tuple[str, float | None]]:
        """(item_id, rating) of the user's liked interactions, oldest first; [] for none (rating None:
        implicit feedback, which counts as liked). The last user's list is kept: a batch run asks for
        each user's k items in a row."""
        last = self._last_liked  # one read: another thread may replace it
        if last[0] == user_id:
            return last[1]
        span = self._liked_spans.get(user_id)
        if span is None:
            return []
        start, end = span
        ids = self._history_item_ids
        liked = [
            (ids[position], rating)
            for position, rating in zip(
                self._liked_items[start:end].tolist(), self._liked_ratings[start:end].to_list(), strict=True
            )
        ]
        self._last_liked = (user_id, liked)
        return liked

    def similarity_row(self, target: int) -> np.ndarray:
        """Cosine similarity of item `target` to every item (who interacted with both), itself 0."""
        row = self._similarity_rows.get(target)
        if row is None:
            row = self._similarity(target, np.asarray((self._seen_csc[:, target].T @ self._seen).todense()).ravel())
            if len(self._similarity_rows) < MAX_CACHED_ROWS:
                self._similarity_rows[target] = row
        return row

    def _similarity(self, target: int, co: np.ndarray) -> np.ndarray:
        """The similarity row of `target` from its co-occurrence counts with every item."""
        with np.errstate(divide="ignore", invalid="ignore"):
            row = np.nan_to_num(co / (self._norms[target] * self._norms)).astype(np.float32)
        row[target] = 0.0
        return row

    def prepare(self, item_ids: Iterable[str]) -> None:
        """Compute the similarity and co-like rows of the popular ones among `item_ids` (the items a batch
        chunk is about to explain) together, several items per sparse x dense product
        (DENSE_ROWS_COST_SHARE); the others are computed one by one when first asked for. The same
        counts either way (sums of ones in float32: exact), so the same rows."""
        positions = sorted({self.position[i] for i in item_ids if i in self.position})
        for name, rows in (("seen", self._similarity_rows), ("liked", self._co_like_rows)):
            costly = self._costly(name, [p for p in positions if p not in rows])
            for target, row in self._batched_rows(name, costly[: max(0, MAX_CACHED_ROWS - len(rows))]):
                rows[target] = row

    def _batched_rows(self, name: str, targets: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(target, row) of the `name` kind ("seen": similarity, "liked": co-like counts) for `targets`,
        DENSE_ROWS_PER_PRODUCT items per sparse x dense product."""
        by_item = self._by_item(name)
        for start in range(0, len(targets), DENSE_ROWS_PER_PRODUCT):
            chunk = targets[start : start + DENSE_ROWS_PER_PRODUCT]
            counts = by_item.T @ by_item[:, chunk].toarray()  # items x chunk: co-occurrence counts
            for column, target in enumerate(chunk):
                co = np.ascontiguousarray(counts[:, column])
                yield target, self._similarity(target, co) if name == "seen" else co

    def _by_item(self, name: str) -> sp.csc_matrix:
        """The users x items matrix of `name`, by item: "seen" (similarity) or "liked" (co-likes)."""
        return self._seen_csc if name == "seen" else self._liked_csc

    def _costly(self, name: str, targets: list[int]) -> list[int]:
        """The targets whose row of the `name` matrix ("seen" or "liked") costs more one by one than in
        a batch (DENSE_ROWS_COST_SHARE)."""
        if not targets:
            return []
        by_item = self._by_item(name)
        cost = self._row_cost(name)
        return [t for t in targets if cost[t] > DENSE_ROWS_COST_SHARE * by_item.nnz]

    def _row_cost(self, name: str) -> np.ndarray:
        """Each item's row's one-by-one cost in the `name` matrix: the interactions of the item's users
        (each user's count, summed over the users of the item)."""
        cost = self._row_costs.get(name)
        if cost is None:
            by_item = self._by_item(name)
            per_user = np.bincount(by_item.indices, minlength=by_item.shape[0]).astype(np.float64)
            cost = self._row_costs[name] = np.add.reduceat(
                np.append(per_user[by_item.indices], 0.0), by_item.indptr[:-1]
            ) * (np.diff(by_item.indptr) > 0)
        return cost

    def similarity_rows(self, targets: list[int]) -> np.ndarray:
        return np.vstack([self.similarity_row(t) for t in targets])

    def co_likers(self, first: int, second: int) -> int:
        """How many users liked both items."""
        row = self._co_like_rows.get(first)
        if row is None:
            row = np.asarray((self._liked_csc[:, first].T @ self._liked).todense()).ravel()
            if len(self._co_like_rows) < MAX_CACHED_ROWS:
                self._co_like_rows[first] = row
        return int(row[second])

    def _taste(self, user_id: str) -> _Taste:
        """The user's liked items as positions, genre sets and genre counts, for the k items of one
        user in a row (the last user's is kept, as `liked` keeps its list)."""
        last = self._last_taste  # one read: another thread may replace it
        if last is not None and last.user_id == user_id:
            return last
        liked = self.liked(user_id)
        known = [(self.position[i], i, r) for i, r in liked if i in self.position]
        genre_sets = [frozenset(self.genres.get(i, [])) for i, _ in liked]
        favourite_genres: dict[str, int] = {}
        for genres in genre_sets:
            for genre in genres:
                favourite_genres[genre] = favourite_genres.get(genre, 0) + 1
        taste = _Taste(
            user_id,
            np.array([position for position, _, _ in known], dtype=np.int64),
            [(i, r) for _, i, r in known],
            genre_sets,
            favourite_genres,
        )
        self._last_taste = taste
        return taste

    def evidence(self, user_id: str, item_id: str, *, max_history: int = 2) -> Evidence:
        result = Evidence(item_id, self.titles.get(item_id, item_id))
        target = self.position.get(item_id)
        if target is None or user_id not in self._liked_spans:
            return result
        taste = self._taste(user_id)
        similarity = self.similarity_row(target)[taste.positions]
        # most similar first; equal similarities keep the history's order (a stable sort)
        for at in np.argsort(-similarity, kind="stable")[:max_history]:
            score = similarity[at]
            if score <= 0:
                break
            history_item, rating = taste.known[at]
            result.similar_history.append(
                {
                    "item_id": history_item,
                    "title": self.titles[history_item],
                    "rating": None if rating is None else float(rating),
                    "similarity": round(float(score), 4),
                    "co_likers": self.co_likers(target, int(taste.positions[at])),
                }
            )
        item_genres = self.genres.get(item_id, [])
        result.shared_genres = [g for g in item_genres if taste.favourite_genres.get(g, 0) > 0 and g != "unknown"]
        if result.shared_genres:
            shared = set(result.shared_genres)
            share = sum(1 for genres in taste.genre_sets if not genres.isdisjoint(shared)) / len(taste.genre_sets)
            result.favourite_genre_share = round(share, 3)
        return result


@dataclass(frozen=True)
class _Taste:
    """One user's liked items as the evidence reads them (EvidenceIndex._taste)."""

    user_id: str
    positions: np.ndarray  # catalogue positions of the liked items the catalogue holds, history order
    known: list[tuple[str, float | None]]  # (item_id, rating) of those, same order
    genre_sets: list[frozenset[str]]  # genres of every liked item (catalogue or not), history order
    favourite_genres: dict[str, int]  # liked items per genre


def _spans(users: list[str], starts: np.ndarray, ends: np.ndarray) -> dict[str, tuple[int, int]]:
    """user -> (start, end) of the user's liked items in the index's liked column."""
    return dict(zip(users, zip(starts.tolist(), ends.tolist(), strict=True), strict=True))


def _mapped(path: Path) -> np.ndarray:
    """A saved array, memory-mapped read-only."""
    return np.load(path, mmap_mode="r")


def _user_item_matrix(rows: np.ndarray, cols: np.ndarray, keep: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Users x items, 1 where a kept row has the user (`rows`: ascending) and item, however many times."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=shape[0]), out=indptr[1:])
    matrix = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), cols[keep], indptr), shape=shape)
    matrix.sum_duplicates()  # sorts each row's items and counts a repeated (user, item) once, with:
    matrix.data[:] = 1.0
    return matrix


def people(n: int) -> str:
    return f"{n} person" if n == 1 else f"{n} people"


def template_explanation(evidence: Evidence) -> str:
    """One sentence that states the evidence and nothing else."""
    parts = []
    if evidence.similar_history:
        titles = " and ".join(
            f"{h['title']} (you rated it {h['rating']:g})" if h["rating"] is not None else h["title"]
            for h in evidence.similar_history
        )
        # one count per history item, each exactly what it is: people who liked that item and this one
        both = [
            f"{people(h['co_likers'])} liked both {h['title']} and {evidence.title}"
            for h in evidence.similar_history
            if h["co_likers"] > 0
        ]
        parts.append(f"you liked {titles}" + (f", and {' and '.join(both)}" if both else ""))
    if evidence.shared_genres:
        parts.append(
            f"it is {', '.join(evidence.shared_genres).lower()}, like {evidence.favourite_genre_share:.0%} of your favourites"
        )
    if not parts:
        return f"{evidence.title} is popular with people whose ratings resemble yours."
    return f"Recommended because {'; '.join(parts)}."
