-- New valid interactions of this load; ids without a catalogue are registered first by the loader.
-- One row per (user_id, item_id, event, ts): core.interactions has no key index (migration 0260), so
-- uniqueness is this statement's: events already in core are excluded (event_present: for a tag row the
-- event can be there while the tag is new) and the load's own duplicates collapse to the first by file
-- position (DISTINCT ON).
-- Tags given together (same user, item and time) are one `tag` event here and one core.tags row each.
INSERT INTO core.interactions (user_id, item_id, rating, event, ts, load_id)
SELECT DISTINCT ON (user_id, item_id, event, ts) user_id, item_id, rating, event, ts, load_id
FROM _interactions
WHERE reason IS NULL AND NOT event_present
ORDER BY user_id, item_id, event, ts, source_file, source_line;

INSERT INTO core.tags (user_id, item_id, tag, ts, load_id)
SELECT user_id, item_id, tag, ts, load_id
FROM _interactions
WHERE reason IS NULL AND NOT already_present AND tag IS NOT NULL;
