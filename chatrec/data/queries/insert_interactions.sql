-- New valid interactions of this load; ids without a catalogue are registered first by the loader.
INSERT INTO core.interactions (user_id, item_id, rating, event, ts, load_id)
SELECT user_id, item_id, rating, event, ts, load_id
FROM _interactions
WHERE reason IS NULL AND NOT already_present;
