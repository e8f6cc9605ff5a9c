-- Move this load's valid rows from the classified temp tables into core (run inside the load's
-- transaction). Items change only through _item_changes (item_changes.sql), which is logged to
-- core.item_history first: NULL never overwrites a value, and every change can be undone.
INSERT INTO core.item_history (load_id, item_id, attribute, old_value, new_value, outcome)
SELECT load_id, item_id, attribute, old_value, new_value, outcome FROM _item_changes;

INSERT INTO core.items (item_id, title, release_year, genres, description, load_id)
SELECT item_id, title, release_year, coalesce(genres, CAST([] AS VARCHAR[])), description, load_id
FROM _items WHERE reason IS NULL AND change = 'new';

UPDATE core.items SET title = ch.new_value, load_id = ch.load_id
FROM _item_changes ch
WHERE ch.item_id = core.items.item_id AND ch.existed AND ch.outcome = 'applied' AND ch.attribute = 'title';

UPDATE core.items SET release_year = CAST(ch.new_value AS INTEGER), load_id = ch.load_id
FROM _item_changes ch
WHERE ch.item_id = core.items.item_id AND ch.existed AND ch.outcome = 'applied' AND ch.attribute = 'release_year';

UPDATE core.items SET genres = string_split(ch.new_value, '|'), load_id = ch.load_id
FROM _item_changes ch
WHERE ch.item_id = core.items.item_id AND ch.existed AND ch.outcome = 'applied' AND ch.attribute = 'genres';

UPDATE core.items SET description = ch.new_value, load_id = ch.load_id
FROM _item_changes ch
WHERE ch.item_id = core.items.item_id AND ch.existed AND ch.outcome = 'applied' AND ch.attribute = 'description';

-- users: a value a row carries replaces the stored one; a NULL never erases one
INSERT INTO core.users (user_id, age, gender, occupation, zip_code, load_id)
SELECT user_id, age, gender, occupation, zip_code, load_id
FROM _users WHERE reason IS NULL AND change <> 'same'
ON CONFLICT (user_id) DO UPDATE SET
    age = coalesce(excluded.age, age),
    gender = coalesce(excluded.gender, gender),
    occupation = coalesce(excluded.occupation, occupation),
    zip_code = coalesce(excluded.zip_code, zip_code),
    load_id = excluded.load_id;
