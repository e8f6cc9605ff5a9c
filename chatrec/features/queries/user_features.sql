-- Per-user features, set-based inside DuckDB: the aggregates plus the taste part (top genres among
-- liked items, the last 10 items, the short text used in LLM prompts). Liked = rated >= 4, or every
-- interaction for a user without ratings (implicit feedback). Ties are broken as a reader would
-- expect: genres with equal counts in the order first met going back through the history (newest
-- first); favourites by rating, then newest, then history order. 25M interactions stay in DuckDB
-- (no per-user Python; tests/features checks it equals the per-user Python of `taste_rows`).
WITH history AS (
    SELECT x.user_id, x.item_id, x.rating, x.ts, i.title, i.genres,
           row_number() OVER (PARTITION BY x.user_id ORDER BY x.ts DESC, x.item_id) AS position
    FROM core.interactions x
    LEFT JOIN core.items i USING (item_id)
    WHERE list_contains($events, x.event)
),
per_user AS (
    SELECT user_id,
           count(*)::INTEGER AS n_ratings,
           avg(rating) AS mean_rating,
           min(ts) AS first_ts,
           max(ts) AS last_ts,
           count(rating) > 0 AS rated,
           list(item_id ORDER BY position) FILTER (WHERE position <= 10) AS recent_items
    FROM history
    GROUP BY user_id
),
liked AS (
    SELECT h.user_id, h.rating, h.ts, h.title, h.genres, h.position
    FROM history h
    JOIN per_user p USING (user_id)
    WHERE NOT p.rated OR h.rating >= 4
),
genre_counts AS (
    SELECT user_id, genre, count(*) AS n, min(first_met) AS first_met
    FROM (
        SELECT user_id, unnest(genres) AS genre, position * 1000 + generate_subscripts(genres, 1) AS first_met
        FROM liked
        WHERE genres IS NOT NULL
    )
    WHERE genre <> 'unknown'
    GROUP BY user_id, genre
),
top_genres AS (
    SELECT user_id, list(genre ORDER BY n DESC, first_met) FILTER (WHERE place <= 3) AS top_genres
    FROM (SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY n DESC, first_met) AS place FROM genre_counts)
    GROUP BY user_id
),
favourites AS (
    SELECT user_id, list(title ORDER BY place) AS favourites
    FROM (
        SELECT user_id, title,
               row_number() OVER (PARTITION BY user_id ORDER BY rating DESC NULLS LAST, ts DESC, position) AS place
        FROM liked
    )
    WHERE place <= 3
    GROUP BY user_id
)
SELECT p.user_id, p.n_ratings, p.mean_rating, p.first_ts, p.last_ts,
       coalesce(g.top_genres, []::VARCHAR[]) AS top_genres,
       p.recent_items,
       trim(
           CASE WHEN p.rated THEN printf('Rated %d films (mean %.1f). ', p.n_ratings, p.mean_rating)
                ELSE printf('Interacted with %d items. ', p.n_ratings) END
           || CASE WHEN len(g.top_genres) > 0 THEN 'Favourite genres: ' || array_to_string(g.top_genres, ', ') || '. '
                   ELSE '' END
           || CASE WHEN len(f.favourites) > 0 THEN 'Loved: ' || array_to_string(f.favourites, '; ') || '.' ELSE '' END
       ) AS taste_summary
FROM per_user p
LEFT JOIN top_genres g USING (user_id)
LEFT JOIN favourites f USING (user_id)
