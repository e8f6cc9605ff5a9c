-- Rename and cast only: raw.items with the year as an integer and genres as a list. An attribute a
-- file does not carry is NULL (an empty genre list too), so a load never erases it (apply_load.sql).
CREATE OR REPLACE VIEW staging.stg_items AS
SELECT
    load_id,
    source_file,
    source_line,
    trim(item_id)                                    AS item_id,
    trim(title)                                      AS title,
    TRY_CAST(trim(release_year) AS INTEGER)          AS release_year,
    nullif(list_filter(string_split(coalesce(genres, ''), '|'), lambda g: g <> ''), CAST([] AS VARCHAR[])) AS genres,
    nullif(trim(description), '')                    AS description
FROM raw.items;
