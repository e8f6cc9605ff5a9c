-- Move this load's valid rows from the classified temp tables into core (run inside the load's
-- transaction). Items and users are upserted; an existing description is never erased by NULL.
INSERT INTO core.items (item_id, title, release_year, genres, description, load_id)
SELECT item_id, title, release_year, genres, description, load_id
FROM _items WHERE reason IS NULL AND change <> 'same'
ON CONFLICT (item_id) DO UPDATE SET
    title = excluded.title,
    release_year = excluded.release_year,
    genres = excluded.genres,
    description = coalesce(excluded.description, description),
    load_id = excluded.load_id;

INSERT INTO core.users (user_id, age, gender, occupation, zip_code, load_id)
SELECT user_id, age, gender, occupation, zip_code, load_id
FROM _users WHERE reason IS NULL AND change <> 'same'
ON CONFLICT (user_id) DO UPDATE SET
    age = excluded.age,
    gender = excluded.gender,
    occupation = excluded.occupation,
    zip_code = excluded.zip_code,
    load_id = excluded.load_id;
