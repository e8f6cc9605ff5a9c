-- New valid interactions of this load; ids without a catalogue are registered first by the loader.
-- Tags given together (same user, item and time) are one `tag` event here and one core.tags row each.
INSERT INTO core.interactions (user_id, item_id, rating, event, ts, load_id)
SELECT DISTINCT ON (user_id, item_id, event, ts) user_id, item_id, rating, event, ts, load_id
FROM _interactions
WHERE reason IS NULL AND NOT already_present
ORDER BY user_id, item_id, event, ts, source_file, source_line
ON CONFLICT DO NOTHING;

INSERT INTO core.tags (user_id, item_id, tag, ts, load_id)
SELECT user_id, item_id, tag, ts, load_id
FROM _interactions
WHERE reason IS NULL AND NOT already_present AND tag IS NOT NULL;
